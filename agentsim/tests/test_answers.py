"""distributed/read -> distributed/write translation, as osqueryd would answer Fleet."""

from __future__ import annotations

from agentsim.answers import (
    FAIL_MESSAGE,
    answer_query,
    build_distributed_write,
    filter_rows,
    run_sql,
)
from agentsim.catalogue import HostData
from agentsim.identity import make_identities, make_identity

READ = {
    "queries": {
        "fleet_detail_query_os_version": "SELECT * FROM os_version LIMIT 1",
        "fleet_detail_query_system_info": "SELECT * FROM system_info LIMIT 1",
        "fleet_detail_query_software_linux": "SELECT name, version FROM deb_packages",
        "fleet_detail_query_something_new": "SELECT * FROM new_table",
        "fleet_label_query_7": "SELECT 1;",
        "fleet_label_query_8": "SELECT 1 FROM os_version WHERE platform = 'darwin';",
        "fleet_policy_query_3": "SELECT 1 FROM users WHERE username = 'root';",
        "fleet_distributed_query_12": "SELECT * FROM processes",
        "fleet_distributed_query_13": "SELECT * FROM fail_simulation",
    },
    "discovery": {"fleet_detail_query_software_linux": "SELECT 1 FROM osquery_registry"},
    "accelerate": 0,
}


def _linux_host() -> HostData:
    return HostData(make_identity(0, "linux", seed=1))


def test_write_body_shape() -> None:
    host = _linux_host()
    body = build_distributed_write("nk-1", READ, host)
    assert body is not None
    assert set(body) == {"node_key", "queries", "statuses", "messages", "stats"}
    assert body["node_key"] == "nk-1"
    names = set(READ["queries"])
    assert set(body["queries"]) == set(body["statuses"]) == set(body["stats"]) == names
    for name, rows in body["queries"].items():
        assert isinstance(rows, list)
        for row in rows:
            assert all(isinstance(v, str) for v in row.values()), name
        assert set(body["stats"][name]) == {"wall_time_ms", "user_time", "system_time", "memory"}
        assert all(isinstance(v, int) for v in body["stats"][name].values())


def test_write_body_answers() -> None:
    host = _linux_host()
    body = build_distributed_write("nk", READ, host)
    q, st = body["queries"], body["statuses"]
    assert q["fleet_detail_query_os_version"] == host.detail("os_version")
    assert q["fleet_detail_query_system_info"][0]["uuid"] == host.ident.hardware_uuid
    assert q["fleet_detail_query_software_linux"] == host.software()
    assert q["fleet_detail_query_something_new"] == [] and st["fleet_detail_query_something_new"] == 0
    assert q["fleet_label_query_7"] == [{"1": "1"}]
    assert q["fleet_label_query_8"] == []  # linux host is not darwin
    assert [r["username"] for r in q["fleet_policy_query_3"]] == ["root"]
    assert len(q["fleet_distributed_query_12"]) >= 3 and "pid" in q["fleet_distributed_query_12"][0]
    assert q["fleet_distributed_query_13"] == []
    assert st["fleet_distributed_query_13"] == 1
    assert body["messages"] == {"fleet_distributed_query_13": FAIL_MESSAGE}
    assert all(v == 0 for k, v in st.items() if k != "fleet_distributed_query_13")


def test_nothing_to_write() -> None:
    host = _linux_host()
    assert build_distributed_write("nk", {"queries": {}, "discovery": {}}, host) is None
    assert build_distributed_write("nk", {}, host) is None


def test_fail_simulation_in_any_query_kind() -> None:
    host = _linux_host()
    for name in ("fleet_label_query_1", "fleet_policy_query_1", "fleet_detail_query_uptime"):
        ans = answer_query(name, "select * from FAIL_SIMULATION where 1", host)
        assert (ans.rows, ans.status, ans.message) == ([], 1, "no such table: fail_simulation")


def test_unknown_tables_match_a_stable_half() -> None:
    hosts = [HostData(i) for i in make_identities(200, "mixed", seed=3)]
    sql = "SELECT 1 FROM chrome_extensions WHERE name = 'x'"
    first = [run_sql(sql, h).rows for h in hosts]
    assert first == [run_sql(sql, h).rows for h in hosts]
    matched = sum(1 for rows in first if rows == [{"result": "1"}])
    assert all(rows in ([], [{"result": "1"}]) for rows in first)
    assert 60 < matched < 140


def test_builtin_label_style_platform_filters() -> None:
    hosts = {i.platform: HostData(i) for i in make_identities(10, "mixed", seed=0)}
    mac_sql = "select 1 from os_version where platform = 'darwin';"
    assert run_sql(mac_sql, hosts["darwin"]).rows and not run_sql(mac_sql, hosts["windows"]).rows
    linux_sql = "SELECT 1 FROM osquery_info WHERE build_platform NOT IN ('darwin', 'windows')"
    assert run_sql(linux_sql, hosts["linux"]).rows and not run_sql(linux_sql, hosts["darwin"]).rows
    sonoma = "SELECT 1 FROM os_version WHERE platform = 'darwin' AND major >= 14"
    assert run_sql(sonoma, hosts["darwin"]).rows
    either = "SELECT 1 FROM os_version WHERE platform = 'windows' OR name LIKE '%mac%'"
    assert run_sql(either, hosts["darwin"]).rows and run_sql(either, hosts["windows"]).rows
    assert not run_sql(either, hosts["linux"]).rows


def test_complex_where_is_ignored() -> None:
    rows = [{"a": "1"}, {"a": "2"}]
    assert filter_rows(rows, "a = (select max(a) from t)") == rows
    assert filter_rows(rows, "unknown_col = 'x'") == rows
    assert filter_rows(rows, "a > 1") == [{"a": "2"}]


def test_software_tables_by_source() -> None:
    mac = HostData(make_identity(2, "darwin", seed=1))
    apps = run_sql("SELECT * FROM apps", mac).rows
    assert apps and all(r["source"] == "apps" for r in apps)
    assert run_sql("SELECT * FROM programs", mac).rows == []
    win = HostData(make_identity(2, "windows", seed=1))
    assert all(r["source"] == "programs" for r in run_sql("select name from programs", win).rows)


def test_limit_caps_the_rows_as_osquery_would() -> None:
    host = _linux_host()
    every = run_sql("SELECT * FROM processes", host).rows
    assert len(every) > 50
    assert run_sql("SELECT * FROM processes LIMIT 50;", host).rows == every[:50]
    assert run_sql("SELECT * FROM processes WHERE uid = '0' LIMIT 3", host).rows == every[:3]
