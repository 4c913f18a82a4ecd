"""Alerts: subscriptions (to new counterparts of one's own listings, or to a saved search), their alerts, webhook
deliveries and Atom feed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ..deps import AnyUser, Id, ServiceDep
from ..schemas import AlertPublic, DeliveryPublic, SubscriptionCreate, SubscriptionPublic

router = APIRouter(prefix="/subscriptions", tags=["alerts"])
Limit = Annotated[int, Query(ge=1, le=500)]


@router.post("", response_model=SubscriptionPublic, status_code=201)
def subscribe(body: SubscriptionCreate, service: ServiceDep, who: AnyUser) -> Any:
    """Subscribe your organisation. Each new or changed listing that clears min_confidence is alerted once per
    pair: to the webhook (if given; the secret in this reply signs every POST), in the Atom feed (feed_url) and in
    the workbench's daily digest. Confidential needs reach only their owner, brokers and admins."""
    filters = body.filters.model_dump() if body.filters else None
    return service.alerts.create(who, body.kind, body.side, body.query, filters, body.min_confidence,
                                 body.webhook_url, body.name)


@router.get("", response_model=list[SubscriptionPublic])
def list_subscriptions(service: ServiceDep, who: AnyUser) -> Any:
    """Your organisation's subscriptions (an admin: everyone's)."""
    return service.alerts.list_for(who)


@router.get("/{sub_id:id}", response_model=SubscriptionPublic)
def get_subscription(sub_id: Id, service: ServiceDep, who: AnyUser) -> Any:
    return service.alerts.view(service.alerts.owned(sub_id, who))


@router.delete("/{sub_id:id}", status_code=204)
def unsubscribe(sub_id: Id, service: ServiceDep, who: AnyUser) -> Response:
    service.alerts.delete(sub_id, who)
    return Response(status_code=204)


@router.get("/{sub_id:id}/alerts", response_model=list[AlertPublic])
def list_alerts(sub_id: Id, service: ServiceDep, who: AnyUser, limit: Limit = 100) -> Any:
    """The subscription's alerts, newest first."""
    return service.alerts.alerts_of(sub_id, who, limit)


@router.get("/{sub_id:id}/deliveries", response_model=list[DeliveryPublic])
def list_deliveries(sub_id: Id, service: ServiceDep, who: AnyUser, limit: Limit = 100) -> Any:
    """Webhook deliveries, newest first: pending (with the next attempt's time), delivered, or dead (dead-lettered
    after the last allowed attempt, with the last error)."""
    return service.alerts.deliveries_of(sub_id, who, limit)


@router.post("/{sub_id:id}/deliveries/{delivery_id:id}/retry", response_model=DeliveryPublic)
def retry_delivery(sub_id: Id, delivery_id: Id, service: ServiceDep, who: AnyUser,
                   force: Annotated[bool, Query(description=(
                       "Send a delivery that already succeeded again (otherwise 409: a retry never repeats a "
                       "success by accident)."))] = False) -> Any:
    """Put a dead-lettered delivery back in line (once the receiver is fixed)."""
    return service.alerts.retry(sub_id, delivery_id, who, force)


@router.get("/{sub_id:id}/feed.atom", response_class=Response,
            responses={200: {"content": {"application/atom+xml": {}}}})
def feed(sub_id: Id, service: ServiceDep, token: Annotated[str, Query(max_length=100, description=(
        "The subscription's feed token (from feed_url): feed readers send no keys."))] = "") -> Response:
    """The subscription's newest alerts as an Atom feed (403 without its token)."""
    return Response(service.alerts.feed_of(sub_id, token), media_type="application/atom+xml; charset=utf-8")
