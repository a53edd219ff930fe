"""Checking a printed report: what overflows the page, and the PDF Chromium prints, as images."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps


def pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found is None:
        pytest.fail("pdftoppm is required (apt-get install poppler-utils)")
    return found


# Elements wider than the page, or whose content is wider than them (cut off on paper).
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width) out.push('page');
  for (const el of document.querySelectorAll('.report__section, table, svg, .card')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 || el.scrollWidth > el.clientWidth + 1)
      out.push(el.tagName + '.' + (el.className.baseVal ?? el.className));
  }
  return out;
}"""


def printed_text(pdf: Path, page: int | None = None) -> str:
    """The text of the PDF (or of one of its pages), whitespace collapsed (poppler's pdftotext)."""
    found = shutil.which("pdftotext")
    if found is None:
        pytest.fail("pdftotext is required (apt-get install poppler-utils)")
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run([found, "-enc", "UTF-8", *pages, str(pdf), "-"], check=True,
                         capture_output=True, timeout=120).stdout.decode()  # fmt: skip
    return " ".join(out.split())


def print_pages(page: Any, pdf: Path) -> list[Image.Image]:
    """The page printed to an A4 PDF by Chromium, each PDF page as an image (not blank)."""
    page.emulate_media(media="print")
    pdf.write_bytes(page.pdf(format="A4", print_background=True))
    prefix = pdf.with_suffix("")
    subprocess.run([pdftoppm(), "-r", "80", "-png", str(pdf), str(prefix)], check=True,
                   timeout=120)  # fmt: skip
    images = [Image.open(p).convert("L") for p in sorted(pdf.parent.glob(f"{prefix.name}-*.png"))]
    for number, image in enumerate(images, start=1):
        assert ImageOps.invert(image).getbbox() is not None, f"PDF page {number} is blank"
        width, height = image.size
        assert abs(width / height - 210 / 297) < 0.01, "not an A4 page"
    return images


