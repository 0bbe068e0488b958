"""deploy/: the compose file of a 2-shard x 2-replica cluster, its ClickHouse and Keeper configs, and the proxy.

No container runs here; what can be checked without one is: the YAML and XML parse, the compose file has the
services of docs/deploy.md, every ClickHouse node's macros name its place in `remote_servers` (each replica of
each shard once, `{replica}` unique across the cluster), Keeper's quorum is the one every node connects to, and
every service process reaches the cluster by the name its store URL gives.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from sightline.store.schema import REPLICA

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLUSTER = "sightline"
SHARDS, REPLICAS, KEEPERS = 2, 2, 3


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return loaded


def _mounted(service: dict[str, Any], inside: str) -> Path:
    """The file of deploy/ mounted at `inside` in the container of `service`."""
    volumes: list[str] = service["volumes"]
    for volume in volumes:
        source, target = volume.split(":")[:2]
        if target == inside:
            return DEPLOY / source
    raise AssertionError(f"nothing is mounted at {inside}")


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_the_compose_file_has_every_service(compose: dict[str, Any]) -> None:
    nodes = {f"ch-s{s}-r{r}" for s in range(1, SHARDS + 1) for r in range(1, REPLICAS + 1)}
    keepers = {f"keeper-{k}" for k in range(1, KEEPERS + 1)}
    processes = {"sightline-1", "sightline-2"}
    assert set(compose["services"]) == nodes | keepers | processes | {"postgres", "migrate", "proxy"}
    assert set(compose["volumes"]) == nodes | keepers | processes | {"postgres", "migrate"}


def test_remote_servers_and_every_nodes_macros_agree(compose: dict[str, Any]) -> None:
    nodes = {name: s for name, s in compose["services"].items() if name.startswith("ch-")}
    configs = {_mounted(s, "/etc/clickhouse-server/config.d/cluster.xml") for s in nodes.values()}
    assert configs == {DEPLOY / "clickhouse" / "cluster.xml"}, "one cluster config for every node"
    cluster = _xml(DEPLOY / "clickhouse" / "cluster.xml").find(f"remote_servers/{CLUSTER}")
    assert cluster is not None
    layout = [
        (shard.findtext("internal_replication"), [r.findtext("host") for r in shard.findall("replica")])
        for shard in cluster.findall("shard")
    ]
    assert [replication for replication, _ in layout] == ["true"] * SHARDS
    assert [len(hosts) for _, hosts in layout] == [REPLICAS] * SHARDS
    placed = {host: (shard, host) for shard, (_, hosts) in enumerate(layout, start=1) for host in hosts}
    assert set(placed) == set(nodes), "every node is a replica of one shard, once"
    for name, service in nodes.items():
        assert service["hostname"] == name
        macros = _xml(_mounted(service, "/etc/clickhouse-server/config.d/macros.xml")).find("macros")
        assert macros is not None
        shard = placed[name][0]
        assert (macros.findtext("cluster"), macros.findtext("shard"), macros.findtext("replica")) == (
            CLUSTER,
            f"{shard:02d}",
            name,
        )
    assert REPLICA == "'{replica}'", "the schema names replicas by the macro set here"


def test_every_node_connects_to_the_keeper_quorum(compose: dict[str, Any]) -> None:
    config = _xml(DEPLOY / "clickhouse" / "cluster.xml")
    connected = {(n.findtext("host"), n.findtext("port")) for n in config.findall("zookeeper/node")}
    keepers = {name: s for name, s in compose["services"].items() if name.startswith("keeper-")}
    quorum = set()
    for number, (name, service) in enumerate(sorted(keepers.items()), start=1):
        keeper = _xml(_mounted(service, "/etc/clickhouse-keeper/keeper_config.xml")).find("keeper_server")
        assert keeper is not None
        assert keeper.findtext("server_id") == str(number)
        servers = {(s.findtext("id"), s.findtext("hostname")) for s in keeper.findall("raft_configuration/server")}
        assert servers == {(str(k), f"keeper-{k}") for k in range(1, KEEPERS + 1)}
        quorum.add((name, keeper.findtext("tcp_port")))
    assert connected == quorum


def test_every_process_reaches_the_cluster_and_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = {name for name in services if name.startswith("ch-")}
    for name in ("migrate", "sightline-1", "sightline-2"):
        environment = services[name]["environment"]
        store = urlsplit(environment["SIGHTLINE_STORE_URL"])
        assert (store.scheme, store.hostname in nodes, store.port) == ("clickhouse", True, 8123), name
        assert parse_qs(store.query) == {"cluster": [CLUSTER]}, name
        assert environment["SIGHTLINE_METADATA_URL"].startswith("postgresql+psycopg://"), name
        assert urlsplit(environment["SIGHTLINE_METADATA_URL"]).hostname == "postgres", name
    writers = {
        urlsplit(services[n]["environment"]["SIGHTLINE_STORE_URL"]).hostname for n in ("sightline-1", "sightline-2")
    }
    assert len(writers) == 2, "each process writes through a node of its own"
    assert services["sightline-1"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_proxy_spreads_over_both_processes(compose: dict[str, Any]) -> None:
    config = _mounted(compose["services"]["proxy"], "/etc/nginx/conf.d/default.conf").read_text()
    upstream = re.search(r"upstream sightline \{(.*?)\}", config, re.S)
    assert upstream is not None
    assert re.findall(r"server (\S+?):8000", upstream.group(1)) == ["sightline-1", "sightline-2"]
    assert "proxy_pass http://sightline;" in config


def test_the_processes_trust_the_proxy_alone(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    for name in ("sightline-1", "sightline-2"):
        assert compose["services"][name]["environment"]["SIGHTLINE_TRUSTED_PROXIES"].split()[0] == f"{proxy}/32"
