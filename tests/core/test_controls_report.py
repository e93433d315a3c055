"""Controls are recorded as controls and the report shows them as such, beside the methods."""

from __future__ import annotations

import json

from harness.config import config_from_dict


def _roles(methods: dict) -> dict[str, str]:
    cfg = config_from_dict({"methods": methods}, source="<test>")
    return {m.name: m.cls.control_role(m.options) for m in cfg.methods}


def test_control_roles_come_from_the_plugin_or_the_options():
    roles = _roles(
        {
            "zero-shot": {},
            "ot-distill": {},
            "ot-oracle": {},
            "planted-effect": {},
            "ot-shuffled": {"uses": "ot-distill", "shuffle_bitext": True},
            "contrastive-anchor": {"uses": "contrastive", "align_weight": 0.0},
        }
    )
    assert roles["zero-shot"] == "" and roles["ot-distill"] == ""  # methods under study
    assert roles["ot-oracle"].startswith("positive control")
    assert roles["planted-effect"].startswith("positive control")
    assert roles["ot-shuffled"] == "negative control: shuffled bitext"
    assert roles["contrastive-anchor"] == "negative control: anchor only"


def test_a_run_marks_its_controls_in_manifest_leaderboard_tier_table_and_latex(tmp_path, tiny_cache):
    from tiny_config import TINY

    from harness.config import load_config
    from harness_reports import run_and_report

    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text(TINY.format(extra="[methods.planted-effect]\n").replace("seeds = [0, 1]", "seeds = [0]"))
    result = run_and_report(
        load_config(cfg_path),
        run_dir=tmp_path / "run",
        cache=tiny_cache,
        progress=False,
        log=lambda s: None,
    )
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    assert manifest["methods"]["planted-effect"]["control"].startswith("positive control")
    assert manifest["methods"]["zero-shot"]["control"] == ""
    html = (result.run_dir / "report.html").read_text()

    def rows_of(table_id: str) -> list[str]:
        table = html[html.index(f'id="{table_id}"') :]
        return table[: table.index("</table>")].split("<tr")[1:]

    for table_id in ("leaderboard-table", "headline-table"):
        rows = rows_of(table_id)
        planted = [r for r in rows if "planted-effect" in r]
        assert planted and all("(positive control)" in r for r in planted), table_id
        assert not any("control)" in r for r in rows if "planted-effect" not in r), table_id
    tex = (result.run_dir / "leaderboard.tex").read_text()
    assert "planted-effect$^\\dagger$" in tex and "zero-shot$^\\dagger$" not in tex
    assert "a control, not a method under study" in tex
