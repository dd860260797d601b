import pytest

from tests.factories import AccountFactory


@pytest.mark.django_db
def test_trading_page_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login")


@pytest.mark.django_db
def test_login_then_trading_page_shows_the_account(client):
    account = AccountFactory()
    response = client.post("/login", {"username": account.owner.username, "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert account.account_number in html
    for section in ("Order ticket", "Open orders", "Positions", "Watchlist", "Funds"):
        assert section in html
    assert "csrftoken" in page.cookies  # the page's fetch() calls send it back as X-CSRFToken
    assert client.get("/static/web/trade.js").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_refused(client):
    account = AccountFactory()
    response = client.post("/login", {"username": account.owner.username, "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_api_keys_page(client):
    account = AccountFactory()
    client.force_login(account.owner)
    assert client.get("/settings/api-keys").status_code == 200


@pytest.mark.django_db
def test_login_requires_the_authenticator_code_once_enrolled(client):
    import pyotp

    from apps.api.services import totp_enroll_begin, totp_enroll_confirm

    account = AccountFactory()
    user = account.owner
    device, _uri = totp_enroll_begin(user=user)
    totp = pyotp.TOTP(device.secret)
    totp_enroll_confirm(user=user, code=totp.now())

    credentials = {"username": user.username, "password": "correct-horse-battery"}
    refused = client.post("/login", credentials)
    assert refused.status_code == 200
    assert "6-digit code" in refused.content.decode()
    assert client.get("/").status_code == 302

    wrong = client.post("/login", {**credentials, "totp_code": "000000" if totp.now() != "000000" else "111111"})
    assert "not valid" in wrong.content.decode()

    # The enrollment code was used already (replay refused); use the next time step's code.
    import time

    accepted = client.post("/login", {**credentials, "totp_code": totp.at(time.time() + 30)})
    assert accepted.status_code == 302 and accepted["Location"] == "/"
    assert client.get("/").status_code == 200
