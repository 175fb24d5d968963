"""/rank card drawing time: the built-in style vs an accent colour vs a stored background.

rank_card.py budgets ~10 ms a card (run in a thread). A background is stored already
card-sized and darkened (rank_styles.prepare_background), so drawing only decodes and pastes
it; preparing one (once, when a member uploads it) is timed too. No database involved.

    python bench/rank_card.py
    python bench/rank_card.py --cards 200
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image

from bench.support import percentile
from plugins.compliance.rank_card import RankInfo, render_rank_card
from plugins.compliance.rank_styles import prepare_background, rgb


def photo(size: tuple[int, int]) -> bytes:
    """A noisy picture (compresses like a photo, unlike a flat colour)."""
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def timed(func: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        func()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=100)
    args = parser.parse_args()
    info = RankInfo("Growmie McGrowface", 42, "Harvest", 123_456, 4_321, 10_990, 7)
    upload = photo((1920, 1080))
    stored = prepare_background(upload)
    accent = rgb("#FF8800")
    cases = {
        "built-in style": lambda: render_rank_card(info),
        "accent colour": lambda: render_rank_card(info, None, accent),
        "accent + background": lambda: render_rank_card(info, None, accent, stored),
    }
    render_rank_card(info)  # fonts loaded once, as in a running bot
    print(f"{args.cards} cards each; stored background {len(stored) / 1024:.0f} KB "
          f"(from a {len(upload) / 1_048_576:.1f} MB 1920x1080 PNG)")
    for label, func in cases.items():
        values = timed(func, args.cards)
        print(f"{label:22s} p50 {percentile(values, 0.5) * 1000:6.1f} ms   "
              f"p95 {percentile(values, 0.95) * 1000:6.1f} ms")
    prep = timed(lambda: prepare_background(upload), 10)
    print(f"{'prepare an upload':22s} p50 {percentile(prep, 0.5) * 1000:6.1f} ms   "
          "(once per upload, in a thread)")


if __name__ == "__main__":
    main()
