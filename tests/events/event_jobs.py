"""A small job for the event tests: it books an order into a ledger directory named in the payload.

The op fails while the ledger directory is missing (the "downstream outage"),
which lets a test drive a run into failure, dead-letter it, fix the outage and
replay the same payload to success.
"""

import json
from pathlib import Path

import dagster as dg

from klikkflow_pipelines.events.resources import TriggerEventResource


@dg.op
def book_order(context: dg.OpExecutionContext, trigger_event: TriggerEventResource) -> str:
    """Write the order payload into ``<ledger>/<order_id>.json``; fail when the ledger is missing."""
    payload = trigger_event.payload()
    ledger = Path(payload["ledger"])
    if not ledger.is_dir():
        raise RuntimeError(f"ledger {ledger} is unavailable")
    target = ledger / f"{payload['order_id']}.json"
    target.write_text(json.dumps(payload), encoding="utf-8")
    context.log.info(f"booked order {payload['order_id']} from event {trigger_event.event_id}")
    return str(target)


@dg.job(resource_defs={"trigger_event": TriggerEventResource()}, executor_def=dg.in_process_executor)
def order_job() -> None:
    """Book one order event."""
    book_order()


@dg.op
def noop() -> None:
    """Do nothing (the crash test only counts queued runs)."""


@dg.job
def intake_job() -> None:
    """A job the crash test launches once per event."""
    noop()
