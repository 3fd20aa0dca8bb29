"""Pixel values kept per screenshot, so no image is turned into patches twice.

The loop shows last step's screenshot (the same Image object) again as history, and it hands the
next screenshot to the model early (`Model.prepare_image`, while the screen settles): both then
cost the model nothing at prompt time. Entries are keyed by the Image object (a weak reference,
so a dropped screenshot frees its entry) and checked against a stamp that changes when the
image is drawn on in place.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Sequence

Values = tuple[Any, tuple[int, int, int]]  # (pixel values of one image, its (t, h, w) grid)


class PixelCache:
    """The last call's images plus images prepared ahead; safe to fill from another thread.

    A prepared image also gets the batch the next call most likely needs, made ahead too: the
    last call's images but the oldest, then the new one (the loop's sliding history window).
    A call showing exactly those images takes the batch as it is, with no 24 MB-per-image copy.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[int, tuple[Any, Any, Values]] = {}
        self._ahead: dict[int, tuple[Any, Any, Values]] = {}
        self._order: list[Any] = []  # weak references to the last call's images, in order
        self._batch: tuple[list[Any], list[Any], Any, Any] | None = None  # (refs, stamps, values, grid)
        self._retired: list[Any] = []

    def batch(self, images: Sequence[Any]) -> tuple[Any, Any] | None:
        """(values, grid) made ahead for exactly `images`, in this order, if there is such a batch."""
        with self._lock:
            made = self._batch
        if made is None or len(made[0]) != len(images):
            return None
        refs, stamps, values, grid = made
        if all(r() is im for r, im in zip(refs, images)) and stamps == [stamp(im) for im in images]:
            return values, grid
        return None

    def known(self, images: Sequence[Any]) -> list[Values | None]:
        """For each image, its values if this cache holds them (else None)."""
        with self._lock:
            entries = [self._recent.get(id(im)) or self._ahead.get(id(im)) for im in images]
        return [e[2] if e is not None and e[0]() is im and e[1] == stamp(im) else None
                for im, e in zip(images, entries)]

    def remember(self, images: Sequence[Any], values: Any, grid: Any) -> None:
        """The images of the call just made (their rows of `values`, in order); prepared images
        they used leave the ahead-of-time part, and dead ones are dropped."""
        recent, row = {}, 0
        for image, g in zip(images, grid.tolist()):
            rows = g[0] * g[1] * g[2]
            recent[id(image)] = (weakref.ref(image), stamp(image), (values[row:row + rows], tuple(g)))
            row += rows
        self._set_recent(images, recent)

    def remember_known(self, images: Sequence[Any]) -> None:
        """As `remember`, for a call whose pixel values are made per image when asked for: the
        values known now are kept as this call's, the others join when `add`ed."""
        recent = {id(im): (weakref.ref(im), stamp(im), known)
                  for im, known in zip(images, self.known(images)) if known is not None}
        self._set_recent(images, recent)

    def add(self, image: Any, values: Values) -> None:
        """`image`'s values, made for the call showing it."""
        with self._lock:
            self._recent[id(image)] = (weakref.ref(image), stamp(image), values)

    def _set_recent(self, images: Sequence[Any], recent: dict[int, tuple[Any, Any, Values]]) -> None:
        with self._lock:
            # The previous call's tensors (tens of MB) are freed by the next `prepare`, on its
            # worker thread: unmapping them here costs the step ~4 ms.
            self._retired.append((self._recent, self._batch))
            self._recent, self._order, self._batch = recent, [weakref.ref(im) for im in images], None
            self._ahead = {k: e for k, e in self._ahead.items() if k not in recent and e[0]() is not None}
            if len(self._retired) > 2:  # no worker prepares: free them here after all
                del self._retired[:-1]

    def prepare(self, image: Any, compute: Callable[[Any], Values]) -> None:
        """Compute and keep `image`'s values now, for a call that will show it, and the batch of
        that call's likely images."""
        import torch

        with self._lock:
            retired, self._retired = self._retired, []
        del retired
        if self.known([image])[0] is None:
            entry = (weakref.ref(image), stamp(image), compute(image))
            with self._lock:
                self._ahead[id(image)] = entry
        with self._lock:
            kept = [r() for r in self._order[1:]]
        images = [im for im in kept if im is not None] + [image]
        known = self.known(images)
        if len(images) != len(kept) + 1 or any(k is None for k in known):
            return
        values = known[0][0] if len(known) == 1 else torch.cat([k[0] for k in known])
        grid = torch.tensor([k[1] for k in known], dtype=torch.long)
        with self._lock:
            self._batch = ([weakref.ref(im) for im in images], [stamp(im) for im in images], values, grid)


def stamp(image: Any) -> tuple[Any, ...]:
    """A cheap fingerprint that changes when an image is drawn on in place: size, mode and a
    sparse 16x16 sample of its pixels (nearest-neighbour, so ~256 pixels are read)."""
    from PIL import Image

    return image.size, image.mode, image.resize((16, 16), Image.Resampling.NEAREST).tobytes()
