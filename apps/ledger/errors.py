"""Ledger errors: each names the rule that refused the movement."""

from __future__ import annotations


class LedgerError(Exception):
    code = "ledger_error"


class UnbalancedTransaction(LedgerError):
    code = "unbalanced_transaction"


class InvalidAmount(LedgerError):
    code = "invalid_amount"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class AccountNotActiveForLedger(LedgerError):
    code = "account_not_active"
