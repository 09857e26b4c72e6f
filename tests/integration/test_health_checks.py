"""Which MLflow health check tells the truth: with its PostgreSQL stopped, ``/health`` still says
OK while the registry call the runbook monitors with fails.

A cluster and server of the test's own, so stopping the database leaves the session's alone.
"""

from __future__ import annotations

import httpx

from tests.integration.conftest import PostgresCluster, client_env, postgres_bin
from tests.mlflow_server import MlflowServer

# The runbook's check (docs/operations.md, Health checks).
REGISTRY_CHECK = "/api/2.0/mlflow/registered-models/get?name=ptb"


def test_health_says_ok_with_the_database_down_the_registry_check_does_not(
    postgres, integration_dir
):
    own = integration_dir / "health-checks"
    own.mkdir()
    cluster = PostgresCluster(postgres_bin(), own / "postgres")
    cluster.base.mkdir()
    cluster.start()
    server = MlflowServer(cluster.uri, own / "artifacts", own / "server.log", env=client_env())
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.post("/api/2.0/mlflow/registered-models/create", json={"name": "ptb"})
            assert client.get(REGISTRY_CHECK).status_code == 200
            assert client.get("/health").status_code == 200

            cluster.stop()
            assert client.get("/health").status_code == 200  # misleading: the database is gone
            down = client.get(REGISTRY_CHECK)
            assert down.status_code >= 500, down.text
    finally:
        server.stop()
        cluster.stop()
