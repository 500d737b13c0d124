"""Event-driven automation: the durable outbox, signed webhooks, dead letters and failure alerting.

Events from every trigger (signed webhooks, RabbitMQ) are first written to the
tenant's outbox table; the outbox sensor turns them into runs with
``run_key`` = event id, so an event is recorded once and run once.
"""
