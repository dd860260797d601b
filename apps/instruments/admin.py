from django.contrib import admin

from .models import Instrument


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("symbol", "name", "exchange", "asset_class", "sector", "tradable", "status")
    list_filter = ("exchange", "tradable", "status", "sector")
    search_fields = ("symbol", "name", "isin")
