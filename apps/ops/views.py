from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .health import health_report


@require_GET
def healthz(request):
    ok, components = health_report()
    return JsonResponse({"status": "ok" if ok else "degraded", "components": components},
                        status=200 if ok else 503)
