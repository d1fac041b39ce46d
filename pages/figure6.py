"""Figure 6 (training curves, the degradation problem) and Table 6, from the checkpoints' own logs."""

from ui.common import current_language, tr
from ui.figure6 import RUNS_KEY, checkpoint_runs, runs_default

import pandas as pd
import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.data import shown_dataset
from resnet_viz.i18n import has_key
from resnet_viz.paper.figure6 import (
    Run,
    TableRow,
    depth_comparison,
    depth_trend,
    display_names,
    same_schedule,
    schedule_params,
    table6,
)
from resnet_viz.render.plots.paper import figure6, table6_figure


def _chosen_runs(logged: list[Run], names: dict[str, str]) -> list[Run]:
    """The logged runs picked in the multiselect; runs that appeared since the last visit are added to it."""
    keys = [r.key for r in logged]
    chosen = st.multiselect(tr("figure6.runs"), keys, default=runs_default(keys), format_func=names.__getitem__,
                            key=RUNS_KEY, help=tr("figure6.runs_help"), placeholder=tr("common.choose"))
    return [r for r in logged if r.key in chosen]


def _gap_sentences(comparisons: dict, names: dict[str, str]) -> None:
    """Per family: does the deeper net train worse than the shallower one (with a warning when unfair)?"""
    st.subheader(tr("figure6.gap_header"))
    for family, worse_key, better_key in (("plain", "figure6.plain_worse", "figure6.plain_not_worse"),
                                          ("resnet", "figure6.resnet_not_better", "figure6.resnet_better")):
        cmp = comparisons[family]
        if cmp is None:
            st.caption(tr("figure6.one_depth", family=tr(f"figure6.family_{family}")))
            continue
        params = dict(deep=names[cmp.deep.key], shallow=names[cmp.shallow.key],
                      deep_train=f"{cmp.deep.final_train_error:.2f}",
                      shallow_train=f"{cmp.shallow.final_train_error:.2f}", gap=f"{abs(cmp.train_gap):.2f}")
        key = worse_key if cmp.deeper_is_worse else better_key
        if not cmp.same_schedule and key in ("figure6.plain_worse", "figure6.resnet_better"):
            key += "_unfair"  # a verdict only where the two were trained alike
        st.markdown(tr(key, **params))
        if not cmp.same_schedule:
            st.caption(tr("figure6.unfair", shallow_schedule=_schedule(cmp.shallow),
                          deep_schedule=_schedule(cmp.deep)))


def _curves_section(runs: list[Run], lang: str) -> None:
    """Figure 6 itself: the chosen runs' training and test error, and what the gaps between depths say."""
    logged = [r for r in runs if r.has_log]
    if not runs:
        st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
        return
    if not logged:
        st.info(tr("figure6.no_logs"))
        return
    names = display_names(runs)
    shown = _chosen_runs(logged, names)
    comparisons = {family: depth_comparison(shown, family) for family in ("plain", "resnet")}
    log_x = st.toggle(tr("figure6.log_x"), key="figure6_log_x", help=tr("figure6.log_x_help"))
    panels = figure6(shown, names, lang, gaps=[c for c in comparisons.values() if c], log_x=log_x)
    for column, panel in zip(st.columns(2), panels):  # side by side on a laptop, one under the other on a phone
        column.plotly_chart(panel, width="stretch")
    _gap_sentences(comparisons, names)
    unfinished = [names[r.key] for r in shown if r.complete is False]
    if unfinished:
        st.caption(tr("figure6.incomplete", runs=", ".join(unfinished)))


EMPTY = "–"  # an empty cell of Table 6 (no paper value, or no run of ours)


def _recipe(name: object) -> str:
    """A recipe's name in the session's language ("fast", "paper"), or as recorded when it has no translation."""
    key = f"figure6.recipe_{name}"
    return tr(key) if has_key(key) else str(name)


def _number(value: float | None) -> str:
    return EMPTY if value is None else f"{value:.2f}"


def _schedule(run: Run) -> str:
    """A run's recipe, epochs and iterations, as Table 6's last column says them."""
    schedule = schedule_params(run)
    if schedule:
        schedule["recipe"] = _recipe(schedule["recipe"])
    return tr("figure6.schedule", **schedule) if schedule else tr("figure6.schedule_unknown")


def _table_row(row: TableRow) -> dict[str, str]:
    """One row of Table 6 with the column names of the session's language, every cell as shown ("–" where there
    is nothing)."""
    run = row.run
    recipe = _schedule(run) if run else EMPTY
    return {tr("figure6.col_model"): row.label,
            tr("figure6.col_params"): f"{row.params:,}",
            tr("figure6.col_paper"): _number(row.paper_error),
            tr("figure6.col_ours"): _number(row.our_error),
            tr("figure6.col_diff"): _number(row.difference),
            tr("figure6.col_recipe"): recipe,
            tr("figure6.col_dataset"): (shown_dataset(run.dataset, current_language()) if run.dataset
                                        else tr("figure6.dataset_unknown")) if run else EMPTY,
            tr("figure6.col_file"): (f"{run.stem} · {tr('paper.shipped') if run.shipped else tr('paper.user')}"
                                     if run else EMPTY)}


def _table(rows: list[TableRow]) -> None:
    """Table 6 as a static table: its cells wrap instead of being cut ("ResNet-1202", the schedule), and empty cells
    show a dash (a data frame drew "None" there, whatever its styler said)."""
    st.table(pd.DataFrame([_table_row(row) for row in rows]).style.hide(axis="index"))


def _table_section(runs: list[Run], lang: str) -> None:
    """Table 6: the paper's CIFAR-10 test errors next to ours, as a table and a chart, and the depth trend."""
    st.header(tr("figure6.table_header"))
    st.markdown(tr("figure6.table_intro"))
    rows = table6(runs)
    _table(rows)
    st.plotly_chart(table6_figure(rows, lang), width="stretch")
    trend = depth_trend(rows)
    if trend is not None:
        ours, falls = trend
        errors = tr("figure6.trend_sep").join(f"{row.label} {row.our_error:.2f} %" for row in ours)
        st.markdown(tr("figure6.trend_falls" if falls else "figure6.trend_not", errors=errors))
        if not same_schedule(row.run for row in ours if row.run is not None):
            st.caption(tr("figure6.trend_unfair", schedules=tr("figure6.schedules_sep").join(
                tr("figure6.schedule_of", net=row.label, schedule=_schedule(row.run)) for row in ours
                if row.run is not None)))
    st.caption(tr("figure6.table_notice"))


def main() -> None:
    lang = current_language()
    st.title(tr("figure6.page_title"))
    st.markdown(tr("figure6.intro"))
    runs = checkpoint_runs(folders_fingerprint(), str(user_checkpoint_dir()))
    _curves_section(runs, lang)
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("figure6.notice"))
    _table_section(runs, lang)


main()
