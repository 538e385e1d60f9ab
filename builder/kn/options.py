"""What `--smoothing kneser-ney` asks for; carried (picklable) by BuildConfig.kn."""
from __future__ import annotations

from dataclasses import dataclass

# lmplz's --discount_fallback defaults: D1, D2, D3+
DEFAULT_FALLBACK = (0.5, 1.0, 1.5)
QUANTIZATIONS = ("8", "16", "none")


@dataclass(frozen=True)
class KnOptions:
    quantize: str = "8"  # bits per stored log10 value, as `ngram import-arpa --quantize`
    discount_fallback: tuple[float, float, float] | None = None  # None: out-of-range is an error

    def check(self) -> "KnOptions":
        from ..errors import BuildError
        if str(self.quantize) not in QUANTIZATIONS:
            raise BuildError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, got {self.quantize!r}")
        if self.discount_fallback is not None:
            d = self.discount_fallback
            if len(d) != 3 or not all(0 <= x <= j for j, x in enumerate(d, start=1)):
                raise BuildError(f"fallback discounts must be D1 in [0,1], D2 in [0,2], D3+ in [0,3], got {d}")
        return self

    def fingerprint(self) -> dict:
        return {"quantize": str(self.quantize), "discount_fallback": self.discount_fallback}
