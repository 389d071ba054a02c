"""Render a text run's ``highlights.html`` in headless Chromium and save a screenshot (the documented check).

    .venv/bin/python scripts/check_highlights.py runs/demo-text/highlights.html runs/demo-text/highlights.png

Needs Debian's ``chromium`` package (``apt install chromium``). Exits 0 when the screenshot was written and shows the
yellow highlight colour of kept words; 1 otherwise; 77 when Chromium is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
MARK_RGB = (0xFF, 0xD5, 0x4F)  # the <mark> background of hnsx.adapters.text.render


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, chromium: str, size: str = "1200,1600", timeout: int = 120) -> None:
    """Render ``html`` with headless Chromium into ``png`` (raises ``RuntimeError`` if no image was written)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
               f"--screenshot={png.resolve()}", html.resolve().as_uri()]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")


def highlight_pixels(png: Path, rgb: tuple[int, int, int] = MARK_RGB, tolerance: int = 12) -> int:
    """Number of pixels of ``png`` within ``tolerance`` of ``rgb`` in every channel."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(rgb)).max(-1) <= tolerance).sum())


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("chromium is not installed (apt install chromium)", file=sys.stderr)
        return 77
    html, png = Path(argv[0]), Path(argv[1])
    screenshot(html, png, chromium)
    count = highlight_pixels(png)
    print(f"{png}: {count} highlight pixels")
    return 0 if count > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
