"""``python webhook_server.py <port> <store url>``: the webhook app under uvicorn as its own process."""

import sys

import uvicorn

from klikkflow_pipelines.events.outbox import Outbox
from klikkflow_pipelines.events.webhook_app import create_webhook_app
from klikkflow_pipelines.tenancy.storage import create_storage_engine

if __name__ == "__main__":
    port, url = int(sys.argv[1]), sys.argv[2]
    outbox = Outbox(create_storage_engine(url))
    app = create_webhook_app(outbox_for_tenant=lambda tenant: outbox)
    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, timeout_keep_alive=60
    )
