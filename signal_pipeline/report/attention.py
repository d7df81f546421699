"""Where attention concentrates: hover and click density by page type × element."""

import duckdb
import numpy as np
import pandas as pd

from signal_pipeline.db import table_exists

MAX_ELEMENTS = 15

#: Interactions of validated sessions per 100 page views of the same page type.
DENSITY_SQL = """
WITH views AS (
    SELECT coalesce(p.page_type, 'other') AS page_type, count(*) AS page_views
    FROM page_views p JOIN validated_sessions v USING (session_id)
    GROUP BY 1
),
touches AS (
    SELECT coalesce(e.page_type, 'other') AS page_type,
           coalesce(e.element, '(none)') AS element,
           count(*) FILTER (WHERE e.event_type = 'hover') AS hovers,
           count(*) FILTER (WHERE e.event_type IN ('click', 'cta_click')) AS clicks
    FROM sessionized_events e JOIN validated_sessions v USING (session_id)
    WHERE e.event_type IN ('hover', 'click', 'cta_click')
    GROUP BY 1, 2
)
SELECT t.page_type, t.element, t.hovers, t.clicks, v.page_views,
       100.0 * (t.hovers + t.clicks) / v.page_views AS per_100_page_views
FROM touches t JOIN views v USING (page_type)
ORDER BY t.page_type, t.element
"""


#: The tables DENSITY_SQL reads.
DENSITY_TABLES = ("page_views", "sessionized_events", "validated_sessions")


def interaction_density(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Hovers and clicks per 100 page views, by page type and element (empty before a run)."""
    if not all(table_exists(con, t) for t in DENSITY_TABLES):
        return pd.DataFrame()
    return con.execute(DENSITY_SQL).df()


def density_heatmap_markdown(density: pd.DataFrame) -> str | None:
    """A PNG heatmap (markdown) of the busiest elements by page type; None without data."""
    from signal_pipeline.charts import figure_png, new_figure, png_markdown

    if density.empty:
        return None
    top = density.groupby("element")["per_100_page_views"].sum().nlargest(MAX_ELEMENTS).index
    grid = density[density["element"].isin(top)].pivot_table(
        index="element", columns="page_type", values="per_100_page_views", fill_value=0.0
    )
    fig, ax = new_figure(7.0, max(2.5, 0.32 * len(grid) + 1.2))
    image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis")
    ax.set_xticks(np.arange(len(grid.columns)), grid.columns, rotation=30, ha="right")
    ax.set_yticks(np.arange(len(grid.index)), grid.index)
    ax.set_title("Hovers + clicks per 100 page views, by page type × element")
    fig.colorbar(image, ax=ax, label="per 100 page views")
    return png_markdown(figure_png(fig), "interaction density heatmap")
