"""helpline-fusion: one encoder for NER, case classification and call-quality scoring.

Installed, the checkout's `data/`, `train/` and `modeling_attention_fusion/` folders are the
subpackages `helpline_fusion.data`, `helpline_fusion.train` and
`helpline_fusion.modeling_attention_fusion`. Run from a checkout without installing, this
package adds the checkout root to its search path so the same imports work.
"""

from pathlib import Path

__version__ = "0.1.0"

_ROOT = Path(__file__).resolve().parent.parent
if (_ROOT / "modeling_attention_fusion" / "modeling_attention_fusion.py").is_file() and (
    _ROOT / "pyproject.toml"
).is_file():
    __path__.append(str(_ROOT))  # noqa: F821 - package __path__

REPO_ROOT = _ROOT if (_ROOT / "configuration").is_dir() else None
