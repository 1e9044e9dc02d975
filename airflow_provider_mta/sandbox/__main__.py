"""``python -m airflow_provider_mta.sandbox``: run the local MTA-, Telnyx- and Bird-compatible server with
uvicorn."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from airflow_provider_mta.core.errors import MtaConfigError
from airflow_provider_mta.sandbox.settings import (
    DEFAULT_API_KEY,
    DEFAULT_BIRD_CHANNEL_ID,
    DEFAULT_BIRD_WORKSPACE_ID,
    Settings,
    is_loopback,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


class _DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every flag's default; a flag whose default is None says in its own help what happens without it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, str]:
    """The settings and the uvicorn log level from the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_mta.sandbox",
        description="Local MTA-compatible SMS API sandbox.",
        formatter_class=_DefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind")
    add("--port", type=int, default=8787, help="port")
    add(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted API key, repeatable; giving any replaces the default (default: {DEFAULT_API_KEY})",
    )
    add("--latency-ms", type=int, default=0, metavar="N", help="delay added to every /v3, /v2 and Bird request")
    add(
        "--send-rate-limit",
        default="25/15",
        metavar="N/SECONDS",
        help="per API key on /v3/send, per workspace on Bird's POST .../messages; 0 = off",
    )
    add(
        "--general-rate-limit",
        default="30/60",
        metavar="N/SECONDS",
        help="per client address on every /v3 route but POST /v3/send (MTA's general limit); 0 = off",
    )
    add("--max-recipients", type=int, default=1000, metavar="N", help="per /send")
    add("--delivery-delay-s", type=float, default=2.0, metavar="S", help="QUEUED to final status")
    add("--telnyx-rate-limit", default="100/60", metavar="N/SECONDS", help="per API key on /v2; 0 = off")
    add("--telnyx-webhook-url", metavar="URL", help="profile webhook of /v2 messages (default: none)")
    add(
        "--telnyx-signing-key",
        metavar="BASE64",
        help="Ed25519 private key (32-byte seed) (default: a fresh key at every start)",
    )
    add("--bird-workspace-id", default=DEFAULT_BIRD_WORKSPACE_ID, metavar="UUID", help="the Bird workspace")
    add("--bird-channel-id", default=DEFAULT_BIRD_CHANNEL_ID, metavar="UUID", help="the Bird SMS channel")
    add("--bird-webhook-url", metavar="URL", help="Bird webhook subscription URL (default: no Bird webhooks)")
    add(
        "--bird-signing-key",
        metavar="KEY",
        help="signing key of the Bird webhook subscription (default: none; give it with --bird-webhook-url)",
    )
    add(
        "--ignore-message-id-filter",
        action="store_true",
        help="GET /v3/deliveries ignores filters[messageId] (MTA does not document it: a real MTA may ignore it)",
    )
    add("--db", metavar="PATH", help="SQLite ledger (default: a throwaway temp file)")
    add("--log-level", default="info", help="uvicorn log level")
    args = parser.parse_args(argv)
    try:
        settings = Settings(
            host=args.host,
            port=args.port,
            api_keys=tuple(args.api_keys or (DEFAULT_API_KEY,)),
            latency_ms=args.latency_ms,
            send_rate_limit=args.send_rate_limit,
            general_rate_limit=args.general_rate_limit,
            max_recipients=args.max_recipients,
            delivery_delay_s=args.delivery_delay_s,
            db_path=args.db,
            telnyx_rate_limit=args.telnyx_rate_limit,
            telnyx_webhook_url=args.telnyx_webhook_url,
            telnyx_signing_key=args.telnyx_signing_key,
            bird_workspace_id=args.bird_workspace_id,
            bird_channel_id=args.bird_channel_id,
            bird_webhook_url=args.bird_webhook_url,
            bird_signing_key=args.bird_signing_key,
            ignore_message_id_filter=args.ignore_message_id_filter,
        )
    except (ValueError, MtaConfigError) as exc:
        parser.error(str(exc))
    return settings, args.log_level


def accepted_keys(api_keys: Sequence[str]) -> str:
    """The accepted keys for the start banner: the default key is shown; keys given with --api-key are not
    (they may be real-looking keys, and logs of the sandbox are kept)."""
    if tuple(api_keys) == (DEFAULT_API_KEY,):
        return f"{DEFAULT_API_KEY} (send it as the connection's password, or Authorization: Bearer {DEFAULT_API_KEY})"
    count = len(api_keys)
    return f"({count} key{'s' if count != 1 else ''} given with --api-key)"


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    from airflow_provider_mta.sandbox.app import create_app

    settings, log_level = parse_args(argv)
    app = create_app(settings)
    where = f"http://{settings.host}:{settings.port}"
    ledger = settings.db_path or "(temp file)"
    print(f"MTA sandbox: API {where}/v3, Telnyx API {where}/v2, inbox {where}/, ledger {ledger}", flush=True)
    print(f"API key: {accepted_keys(settings.api_keys)}", flush=True)
    public_key = app.state.sandbox.telnyx_signer.public_key
    print(f"Telnyx webhook public key (Ed25519, base64): {public_key}", flush=True)
    channel = f"{where}/workspaces/{settings.bird_workspace_id}/channels/{settings.bird_channel_id}"
    print(
        f"Bird API {where} (workspace {settings.bird_workspace_id}, channel {settings.bird_channel_id}):"
        f" {channel}/messages",
        flush=True,
    )
    if settings.bird_webhook_url:
        print(f"Bird webhooks (signed with the given key): {settings.bird_webhook_url}", flush=True)
    if not is_loopback(settings.host):
        print("Bound to a non-loopback host: /_sandbox/ routes need an API key as Bearer token.", flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=3,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
