"""The bare endpoint the intake benchmark compares Warroom against: FastAPI on uvicorn, parse the JSON, answer 202.

Run as its own process (`python bench/bare_app.py PORT`), with the same uvicorn defaults as
`warroom serve` (uvloop and httptools when installed, one worker) but no logging: the ceiling for
"a Python web endpoint that reads an Alertmanager body" on this machine.
"""

import json
import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/webhooks/alertmanager", status_code=202)
async def alertmanager(request: Request) -> JSONResponse:
    document = json.loads(await request.body())
    return JSONResponse({"status": "accepted", "alerts": len(document.get("alerts", []))}, status_code=202)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False)
