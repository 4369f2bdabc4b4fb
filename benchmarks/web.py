"""Web benchmark: dashboard and measure page latency under 50 concurrent users.

Starts ``cmo serve`` (waitress, one process) on a loopback port against a results warehouse,
logs in once per virtual user, then runs a closed-loop load: each of 50 users requests the
dashboard or a measure page, waits a think time of 0.5-1.5 s (Locust's ``between(0.5, 1.5)``)
and repeats, for a fixed duration. A second phase without think time measures the saturation
throughput. Requests go to 127.0.0.1 only and stop after the duration.

The warehouse is ``$CMO_BENCH_WAREHOUSE`` when set (e.g. a ``cmo demo`` build), else a fresh
``cmo demo --no-serve --patients 2000`` build (6 measures, 24 months; its serving snapshot is
what the app reads).

Target (issue 6): p95 <= 200 ms for the dashboard and the measure page at 50 users, 2 cores.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

USERS = 50
PASSWORD = "bench-password-" + "x" * 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cmo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "cmo")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, check=True)


def _login(base: str) -> str:
    """Log in through the form like a browser; return the Cookie header value."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    data = urllib.parse.urlencode(
        {"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": token}
    ).encode()
    req = urllib.request.Request(
        f"{base}/accounts/login/", data=data, headers={"Referer": f"{base}/accounts/login/"}
    )
    opener.open(req).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


async def _get(reader: Any, writer: Any, path: str, cookie: str) -> int:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = head.decode("latin-1").lower()
    m = re.search(r"content-length: (\d+)", headers)
    if m:
        await reader.readexactly(int(m.group(1)))
    elif "transfer-encoding: chunked" in headers:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _user(
    port: int,
    cookie: str,
    pages: list[str],
    until: float,
    think: bool,
    out: dict[str, list[float]],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()
    try:
        while time.perf_counter() < until:
            path = rng.choice(pages)
            t0 = time.perf_counter()
            status = await _get(reader, writer, path, cookie)
            out.setdefault(path, []).append(time.perf_counter() - t0)
            if status != 200:
                errors.append(f"{path}: {status}")
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5))
    finally:
        writer.close()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] * 1000 if s else float("nan")


async def _phase(
    port: int, cookies: list[str], pages: list[str], seconds: float, think: bool
) -> dict[str, Any]:
    out: dict[str, list[float]] = {}
    errors: list[str] = []
    until = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(*[_user(port, c, pages, until, think, out, errors) for c in cookies])
    wall = time.perf_counter() - start
    figures: dict[str, Any] = {"seconds": round(wall, 1), "errors": len(errors)}
    all_t = [t for ts in out.values() for t in ts]
    figures["requests"] = len(all_t)
    figures["rps"] = round(len(all_t) / wall, 1)
    for path, ts in sorted(out.items()):
        figures[path] = {
            "n": len(ts),
            "p50_ms": round(_pct(ts, 0.5), 1),
            "p95_ms": round(_pct(ts, 0.95), 1),
            "p99_ms": round(_pct(ts, 0.99), 1),
        }
    return figures


def _first_measure(warehouse: str) -> str:
    """A risk-adjusted measure (its page has every section), else the first one."""
    from cmo.measures import api
    from cmo.warehouse import connect

    with connect(warehouse, read_only=True) as wh:
        measures = api.list_measures(wh)
    adjusted = [m for m in measures if m.get("risk_adjusted") and m.get("kind") == "proportion"]
    return str((adjusted or measures)[0]["measure_id"])


def run(quick: bool) -> dict[str, Any]:
    seconds = 15.0 if quick else 60.0
    data = Path(tempfile.mkdtemp(prefix="cmo-bench-web-"))
    warehouse = os.environ.get("CMO_BENCH_WAREHOUSE")
    env = {**os.environ, "CMO_DATA_DIR": str(data)}
    env.pop("CMO_DATABASE_URL", None)
    if not warehouse:
        warehouse = str(data / "warehouse.duckdb")
        demo = ("demo", "--no-serve", "--patients", "2000", "--out", str(data / "demo"))
        _cmo(*demo, "--warehouse", warehouse, env=env)
    env["CMO_WAREHOUSE"] = warehouse
    _cmo("user", "add", "bench", "--role", "cmo", env=env)
    # Set the known password (the CLI prints a random one).
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import cmo.web as w; w.setup(); from django.contrib.auth.models import User; "
                f"u=User.objects.get(username='bench'); u.set_password({PASSWORD!r}); u.save(); "
                "from cmo.web.models import Profile; "
                "Profile.objects.filter(user=u).update(must_change_password=False)"
            ),
        ],
        env=env,
        check=True,
    )
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cmo"), "serve", "--port", str(port), "--threads", "8"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.5)
        measures = [f"/quality/measure/{_first_measure(warehouse)}/"]
        cookies = [_login(base) for _ in range(USERS)]
        pages = ["/quality/", *measures]
        # Warm the cache once (first request after a build computes charts): not timed.
        for p in pages:
            urllib.request.urlopen(
                urllib.request.Request(base + p, headers={"Cookie": cookies[0]})
            ).read()
        result = {
            "users": USERS,
            "warehouse": "CMO_BENCH_WAREHOUSE"
            if os.environ.get("CMO_BENCH_WAREHOUSE")
            else "cmo demo --patients 2000",
            "think_0.5_1.5s": asyncio.run(_phase(port, cookies, pages, seconds, think=True)),
            "no_think": asyncio.run(_phase(port, cookies, pages, seconds / 3, think=False)),
        }
    finally:  # also on Ctrl-C: never leave the server behind
        server.terminate()
        server.wait(timeout=30)
    for phase in ("think_0.5_1.5s", "no_think"):
        f = result[phase]
        print(f"web {phase}: {f['requests']} requests, {f['rps']} req/s, {f['errors']} errors")
        for p in pages:
            if p in f:
                print(
                    f"  {p}: p50 {f[p]['p50_ms']} ms, p95 {f[p]['p95_ms']} ms, "
                    f"p99 {f[p]['p99_ms']} ms (n={f[p]['n']})"
                )
    return result


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
