"""One client shared between threads, with connection reuse, over real HTTP."""

from __future__ import annotations

import concurrent.futures
import threading

import lightsail_images as li
from tests.scripted_server import Reply, scripted_server

DIGEST = "sha256:" + "7a" * 32
OK = Reply.json(200, {"containerImage": {"image": ":svc.web.1", "digest": DIGEST, "createdAt": 1}})


def test_sixteen_threads_share_one_client_and_its_connections() -> None:
    threads_before = threading.active_count()
    with scripted_server(default=OK) as server:
        client = li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKIDTHREADS",
            aws_secret_access_key="threads-secret",
            config=li.ClientConfig(max_pool_connections=16),
        )
        with client, concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [
                pool.submit(
                    client.register_container_image, service_name="svc", label="web", digest=DIGEST
                )
                for _ in range(400)
            ]
            results = [f.result() for f in futures]
        assert all(r.container_image.image == ":svc.web.1" for r in results)
        assert len(server.requests) == 400
        # Keep-alive: far fewer connections than requests (at most one per pool slot).
        peers = {r.peer for r in server.requests}
        assert len(peers) <= 16
    assert threading.active_count() <= threads_before


def test_sequential_calls_reuse_one_connection() -> None:
    with scripted_server(default=OK) as server:
        with li.Client(
            "us-east-1",
            endpoint_url=server.url,
            aws_access_key_id="AKID",
            aws_secret_access_key="s",
        ) as client:
            for _ in range(20):
                client.register_container_image(service_name="svc", label="web", digest=DIGEST)
        assert len({r.peer for r in server.requests}) == 1
