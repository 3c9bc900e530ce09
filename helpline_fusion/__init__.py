"""helpline-fusion: one encoder for NER, case classification and call-quality scoring.

The checkout's `data/`, `train/` and `modeling_attention_fusion/` folders install as the subpackages
`helpline_fusion.data`, `helpline_fusion.train` and `helpline_fusion.modeling_attention_fusion` (the
`package-dir` mapping in `pyproject.toml`); from a checkout, `pip install -e .` makes them importable.
"""

__version__ = "0.1.0"
