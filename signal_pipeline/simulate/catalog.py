"""The simulated shop: products, page URLs, page elements, campaigns, experiments.

Page URLs are enumerated once into `SITE.urls`; a page is an index into that list, so events
can carry a URL as an integer until they are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from signal_pipeline.simulate.personas import PAGE_KINDS

SITE_ORIGIN = "https://shop.example.com"

PRODUCTS: tuple[str, ...] = ("x100", "x200", "x300", "x500", "z10", "z20", "z40", "pro-s")
PRODUCT_PRICES: tuple[float, ...] = (299.0, 499.0, 749.0, 1199.0, 189.0, 349.0, 629.0, 1899.0)

CAMPAIGNS: tuple[str | None, ...] = (
    None,
    "brand_search",
    "newsletter_2026_01",
    "spring_sale",
    "retargeting_display",
    "comparison_guide",
    "social_video_push",
)
CAMPAIGN_SOURCES: dict[str, str] = {
    "brand_search": "utm_source=google&utm_medium=cpc",
    "newsletter_2026_01": "utm_source=newsletter&utm_medium=email",
    "spring_sale": "utm_source=facebook&utm_medium=paid_social",
    "retargeting_display": "utm_source=criteo&utm_medium=display",
    "comparison_guide": "utm_source=techreview&utm_medium=referral",
    "social_video_push": "utm_source=tiktok&utm_medium=paid_social",
}
EXPERIMENT_CAMPAIGN = "social_video_push"
"""Never drawn by the personas: only the planted experiment (`experiment.py`) sends traffic."""

EXPERIMENT = "pricing_layout_2026"
VARIANTS: tuple[str, ...] = ("control", "stacked_plans")
EXPERIMENT_SHARE = 0.5
"""Share of sessions enrolled in the experiment (the rest carry no experiment)."""

ELEMENTS: tuple[str, ...] = (
    "cta",
    "nav",
    "pricing_table",
    "plan_card",
    "faq",
    "spec_sheet",
    "spec_table_row",
    "download_datasheet",
    "image_gallery",
    "feature_list",
    "review_section",
    "product_card",
    "hero_banner",
    "comparison_table",
    "product_video",
    "checkout_form",
    "add_to_cart_button",
    "breadcrumb",
    "footer_link",
)
ELEMENT_CODE: dict[str, int] = {name: code for code, name in enumerate(ELEMENTS)}

HOVER_ELEMENTS: dict[str, tuple[str, ...]] = {
    "home": ("hero_banner", "product_card", "nav", "image_gallery"),
    "product": ("image_gallery", "feature_list", "review_section", "pricing_table", "nav"),
    "specs": ("spec_sheet", "spec_table_row", "download_datasheet", "nav"),
    "pricing": ("pricing_table", "plan_card", "faq", "nav"),
    "comparison": ("comparison_table", "spec_sheet", "product_card", "nav"),
    "checkout": ("checkout_form", "nav"),
}
CLICK_ELEMENTS: dict[str, tuple[str, ...]] = {
    "home": ("hero_banner", "image_gallery", "footer_link"),
    "product": ("image_gallery", "review_section", "feature_list"),
    "specs": ("spec_table_row", "download_datasheet", "spec_sheet"),
    "pricing": ("plan_card", "faq", "pricing_table"),
    "comparison": ("comparison_table", "spec_sheet"),
    "checkout": ("checkout_form",),
}
NAVIGATION_ELEMENTS: tuple[str, ...] = ("nav", "product_card", "breadcrumb")


@dataclass(frozen=True)
class SiteMap:
    """Every page URL of the site with its kind and product, plus landing-page variants."""

    urls: list[str] = field(default_factory=list)
    kind_of_url: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    home_url: int = 0
    pricing_url: int = 0
    checkout_url: int = 0
    product_url: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    specs_url: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    comparison_url: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))
    """comparison_url[a, b] = URL index of the comparison of products a and b (a != b)."""
    base_url_count: int = 0
    """URLs [0, base_url_count) have no query tags; landing variants follow."""


def build_site_map() -> SiteMap:
    """Enumerate the site's URLs: base pages, then each base page tagged with each campaign."""
    urls: list[str] = []
    kinds: list[int] = []

    def add(path: str, kind: str) -> int:
        urls.append(SITE_ORIGIN + path)
        kinds.append(PAGE_KINDS.index(kind))
        return len(urls) - 1

    home = add("/", "home")
    pricing = add("/pricing", "pricing")
    checkout = add("/checkout", "checkout")
    product = np.array([add(f"/products/{p}", "product") for p in PRODUCTS], np.int32)
    specs = np.array([add(f"/products/{p}/specs", "specs") for p in PRODUCTS], np.int32)
    comparison = np.full((len(PRODUCTS), len(PRODUCTS)), -1, np.int32)
    for a, b in combinations(range(len(PRODUCTS)), 2):
        index = add(f"/compare?items={PRODUCTS[a]},{PRODUCTS[b]}", "comparison")
        comparison[a, b] = comparison[b, a] = index
    base_count = len(urls)
    for campaign in CAMPAIGNS[1:]:
        assert campaign is not None
        tag = f"{CAMPAIGN_SOURCES[campaign]}&utm_campaign={campaign}"
        for index in range(base_count):
            separator = "&" if "?" in urls[index] else "?"
            urls.append(urls[index] + separator + tag)
            kinds.append(kinds[index])
    return SiteMap(
        urls=urls,
        kind_of_url=np.asarray(kinds, np.int8),
        home_url=home,
        pricing_url=pricing,
        checkout_url=checkout,
        product_url=product,
        specs_url=specs,
        comparison_url=comparison,
        base_url_count=base_count,
    )


def landing_url(site: SiteMap, base_url: np.ndarray, campaign: np.ndarray) -> np.ndarray:
    """URL index of `base_url` tagged with the campaign (code 0 = untagged)."""
    return np.where(campaign > 0, base_url + campaign * site.base_url_count, base_url)


def element_table(choices: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Element codes per page kind as a (kinds, max choices) array padded by repetition."""
    width = max(len(v) for v in choices.values())
    table = np.zeros((len(PAGE_KINDS), width), np.int16)
    for kind_code, kind in enumerate(PAGE_KINDS):
        codes = [ELEMENT_CODE[e] for e in choices[kind]]
        table[kind_code] = [codes[i % len(codes)] for i in range(width)]
    return table


def choice_counts(choices: dict[str, tuple[str, ...]]) -> np.ndarray:
    """Number of real (unpadded) choices per page kind for `element_table`."""
    return np.array([len(choices[kind]) for kind in PAGE_KINDS], np.int16)
