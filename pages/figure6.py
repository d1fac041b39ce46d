"""Figure 6 (training curves, the degradation problem) and Table 6, from the checkpoints' own logs."""

import streamlit as st

from resnet_viz.checkpoints.find import user_checkpoint_dir
from resnet_viz.paper.figure6 import (
    collect_runs,
    depth_comparison,
    depth_trend,
    display_names,
    fingerprint,
    schedule_params,
    table6,
)
from resnet_viz.render.plots.paper import figure6, table6_figure
from ui.common import current_language, tr


@st.cache_data(max_entries=8, show_spinner=False)
def _runs(fingerprint_key: tuple, user_dir: str):
    return collect_runs()


lang = current_language()
st.title(tr("figure6.page_title"))
st.markdown(tr("figure6.intro"))

runs = _runs(fingerprint(), str(user_checkpoint_dir()))
logged = [r for r in runs if r.has_log]
names = display_names(runs)

if not runs:
    st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
elif not logged:
    st.info(tr("figure6.no_logs"))
else:
    keys = [r.key for r in logged]
    if "figure6_runs" in st.session_state:  # keep the choices that still exist, add runs that appeared since
        known = st.session_state.get("figure6_known", keys)
        st.session_state["figure6_runs"] = ([k for k in st.session_state["figure6_runs"] if k in keys]
                                         + [k for k in keys if k not in known])
    st.session_state["figure6_known"] = keys
    default = None if "figure6_runs" in st.session_state else keys
    chosen = st.multiselect(tr("figure6.runs"), keys, default=default, format_func=names.get, key="figure6_runs",
                            help=tr("figure6.runs_help"))
    shown = [r for r in logged if r.key in chosen]
    comparisons = {family: depth_comparison(shown, family) for family in ("plain", "resnet")}
    st.plotly_chart(figure6(shown, names, lang, gaps=[c for c in comparisons.values() if c]), width="stretch")

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
        st.markdown(tr(worse_key if cmp.deeper_is_worse else better_key, **params))
        if not cmp.same_schedule:
            st.caption(tr("figure6.unfair", shallow_iters=cmp.shallow.iterations[-1], deep_iters=cmp.deep.iterations[-1],
                          shallow_recipe=cmp.shallow.recipe.get("name", "?"),
                          deep_recipe=cmp.deep.recipe.get("name", "?")))
    unfinished = [names[r.key] for r in shown if r.complete is False]
    if unfinished:
        st.caption(tr("figure6.incomplete", runs=", ".join(unfinished)))

with st.expander(tr("paper.what_to_notice"), expanded=True):
    st.markdown(tr("figure6.notice"))

st.header(tr("figure6.table_header"))
st.markdown(tr("figure6.table_intro"))
rows = table6(runs)
st.dataframe(
    [{tr("figure6.col_model"): row.label,
      tr("figure6.col_params"): f"{row.params:,}",
      tr("figure6.col_paper"): row.paper_error,
      tr("figure6.col_ours"): None if row.our_error is None else round(row.our_error, 2),
      tr("figure6.col_diff"): None if row.difference is None else round(row.difference, 2),
      tr("figure6.col_recipe"): (tr("figure6.schedule", **schedule_params(row.run))
                              if row.run and schedule_params(row.run) else tr("figure6.schedule_unknown")) if row.run
      else None,
      tr("figure6.col_dataset"): (row.run.dataset or tr("figure6.dataset_unknown")) if row.run else None,
      tr("figure6.col_file"): (f"{row.run.stem} · {tr('paper.shipped') if row.run.shipped else tr('paper.user')}"
                            if row.run else None)}
     for row in rows],
    hide_index=True, width="stretch")
st.plotly_chart(table6_figure(rows, lang), width="stretch")
trend = depth_trend(rows)
if trend is not None:
    ours, falls = trend
    errors = tr("figure6.trend_sep").join(f"{row.label} {row.our_error:.2f} %" for row in ours)
    st.markdown(tr("figure6.trend_falls" if falls else "figure6.trend_not", errors=errors))
st.caption(tr("figure6.table_notice"))
