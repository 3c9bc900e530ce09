"""The helpline attention-fusion model: one shared encoder, a NER head, four case heads and six
call-quality heads, each sentence-level task with its own learned attention pooling.

This file ships to the Hub next to the weights (``trust_remote_code``): it imports only torch,
transformers, the standard library and its sibling files (single-dot imports).
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import ModelOutput
from transformers.utils import logging as hf_logging

from .configuration_attention_fusion import CASE_HEADS, QA_HEADS, SENTENCE_TASKS, TASKS, AttentionFusionConfig
from .inference_attention_fusion import FusionPredictorMixin
from .labels_attention_fusion import TASK_INFO

# Not used here: imported so that `save_pretrained` ships the pipeline file that `config.custom_pipelines` names.
from .pipeline_attention_fusion import HelplineFusionPipeline  # noqa: F401

try:  # transformers 5: init functions that skip weights already loaded from a checkpoint
    from transformers import initialization as init
except ImportError:  # transformers 4.x consumers
    init = nn.init

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pooling
class TaskAttentionPooling(nn.Module):
    """Learned attention pooling: one score per token, padding masked before the softmax.

    With `num_queries > 1` it pools `num_queries` times, each query with its own token scores, and returns
    `(batch, num_queries, hidden)`; with one query `(batch, hidden)`. The weights come back as
    `(batch, seq_len)` (averaged over the queries), or with `per_query=True` as `(batch, num_queries, seq_len)`
    (each query's own, what evidence spans read). A row whose mask is all zeros pools to a zero vector (never NaN).
    """

    def __init__(self, hidden_size: int, num_queries: int = 1) -> None:
        super().__init__()
        self.num_queries = int(num_queries)
        self.score = nn.Linear(hidden_size, self.num_queries)

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor, per_query: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # hidden: (batch, seq_len, hidden), mask: (batch, seq_len)
        mask = mask.to(torch.bool)
        scores = self.score(hidden).transpose(1, 2)  # (batch, queries, seq_len)
        scores = scores.masked_fill(~mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores.float(), dim=-1)  # all-masked row -> uniform, still finite
        weights = weights * mask.any(dim=-1)[:, None, None]  # ... then zero: nothing to attend to
        pooled = torch.einsum("bqs,bsh->bqh", weights.to(hidden.dtype), hidden)  # (batch, queries, hidden)
        if self.num_queries == 1:
            return pooled[:, 0], weights if per_query else weights[:, 0]
        return pooled, weights if per_query else weights.mean(dim=1)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weights = mask.to(hidden.dtype)
    weights = weights / weights.sum(dim=-1, keepdim=True).clamp(min=1.0)  # (batch, seq_len)
    return torch.einsum("bs,bsh->bh", weights, hidden), weights


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weights = torch.zeros_like(mask, dtype=hidden.dtype)
    weights[:, 0] = 1.0
    return hidden[:, 0], weights


class SentencePooler(nn.Module):
    """`attention` (learned), `cls` (first token) or `mean` pooling over the unmasked tokens."""

    def __init__(self, hidden_size: int, kind: str, num_queries: int = 1) -> None:
        super().__init__()
        self.kind = kind
        self.attention = TaskAttentionPooling(hidden_size, num_queries) if kind == "attention" else None

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor, per_query: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(pooled, weights)`; `per_query=True` gives the weights as `(batch, queries, seq_len)` (one query for
        `cls` and `mean`)."""
        if self.attention is not None:
            return self.attention(hidden, mask, per_query)
        pooled, weights = cls_pool(hidden, mask) if self.kind == "cls" else mean_pool(hidden, mask)
        return pooled, weights[:, None] if per_query else weights


def pooling_query_order(heads: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """The order of the heads' pooling queries (`pool_per_head`): the heads of the label reference in its order, then
    any others by name. It depends on the head names only, never on the order of `heads`: `config.json` stores its
    dicts with sorted keys, and a model reloaded from it must give each head the queries it was trained with. (The
    order models were trained in before this rule: the reference's, which training's label maps keep.)

    Example:
        >>> pooling_query_order({"priority": [], "extra": [], "main_category": []}, {"main_category": [], "priority": []})
        ['main_category', 'priority', 'extra']
    """
    return [head for head in reference if head in heads] + sorted(head for head in heads if head not in reference)


# --------------------------------------------------------------------------- heads
class NerHead(nn.Module):
    """Token classifier to the BIO tags: `linear` is Dropout -> Linear (as `AutoModelForTokenClassification`);
    `mlp` is Dropout -> Linear -> GELU -> Dropout -> Linear."""

    def __init__(self, hidden_size: int, num_tags: int, dropout: float, kind: str = "linear") -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size) if kind == "mlp" else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_tags)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(hidden)
        if self.dense is not None:
            hidden = self.dropout(F.gelu(self.dense(hidden)))
        return self.classifier(hidden)  # (batch, seq_len, tags)


class LayerMix(nn.Module):
    """A learned softmax-weighted sum of the encoder's hidden states, one weight per layer (embeddings included),
    each state normalised first (layers differ in scale by an order of magnitude, and the weights alone should say
    how much a layer counts); starts as the plain mean of the layers."""

    def __init__(self, num_states: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_states))

    def forward(self, states: tuple[torch.Tensor, ...]) -> torch.Tensor:
        weights = torch.softmax(self.logits, dim=0)
        normed = (F.layer_norm(state, state.shape[-1:]) for state in states)
        return sum(weight * state for weight, state in zip(weights, normed, strict=True))


class PooledMultiHead(nn.Module):
    """[layer mix ->] [LayerNorm ->] pool -> dropout -> one linear layer per head (`sizes[head]` outputs each).

    The LayerNorm (`layer_norm=True`) puts the token states on a unit scale first, whatever the encoder: the
    pooling scores and the heads then learn at the same rate on MiniLM (output spread ~0.08) as on DistilBERT.
    With `per_head=True` (attention pooling only) each head reads its own attention pooling of the window, so
    heads whose evidence sits in different sentences (a call's opening and its closing) need not share one
    weighted average of the tokens; with `per_output=True` as well (the quality heads, whose outputs are
    independent yes/no sub-metrics) each output reads its own pooling: output `j` of a head is its linear layer's
    row `j` applied to pooling `j`.
    """

    def __init__(
        self,
        hidden_size: int,
        sizes: dict[str, int],
        pooling: str,
        dropout: float,
        layer_norm: bool = False,
        mix_states: int | None = None,
        per_head: bool = False,
        per_output: bool = False,
        query_order: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.mix = LayerMix(mix_states) if mix_states else None
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else None
        self.per_head = bool(per_head) and pooling == "attention"
        self.per_output = self.per_head and bool(per_output)
        # The pooling queries of each head: one, or one per output, laid out in `query_order` (the rows of the
        # pooling's score layer; a saved config lists its heads alphabetically, so the order must not come from it).
        self.slices: dict[str, slice] = {}
        queries = 0
        for head in query_order or list(sizes):
            size = sizes[head]
            width = size if self.per_output else 1
            self.slices[head] = slice(queries, queries + width)
            queries += width
        self.pooler = SentencePooler(hidden_size, pooling, queries if self.per_head and queries else 1)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({head: nn.Linear(hidden_size, size) for head, size in sizes.items()})

    def forward(
        self, hidden: torch.Tensor | tuple[torch.Tensor, ...], mask: torch.Tensor, head_weights: bool = False
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor] | tuple[dict[str, torch.Tensor], torch.Tensor, dict]:
        """`hidden`: the last layer's token states, or with `mix_states` every layer's (a tuple).

        Returns `(logits, weights)`: `weights` `(batch, seq_len)` is the pooling averaged over its queries. With
        `head_weights=True` a third item, `{head: (batch, n, seq_len)}`: the pooling each head's decisions read,
        `n` = the head's outputs when each output has its own pooling (`per_output`), else 1 (a shared pooling
        gives every head the same weights).
        """
        if self.mix is not None:
            hidden = self.mix(hidden)
        if self.norm is not None:
            hidden = self.norm(hidden)
        pooled, weights = self.pooler(hidden, mask, head_weights)  # (batch[, queries], hidden), (batch[, q], seq)
        logits = self._head_logits(self.dropout(pooled))
        if not head_weights:
            return logits, weights
        by_head = {head: weights[:, self.slices[head]] if self.per_head else weights for head in self.heads}
        return logits, weights.mean(dim=1), by_head  # weights: (batch, queries, seq_len) -> (batch, seq_len)

    def _head_logits(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self.per_head:
            return {head: layer(pooled) for head, layer in self.heads.items()}
        if pooled.dim() == 2:  # a single query in all
            pooled = pooled[:, None]
        logits = {}
        for head, layer in self.heads.items():
            own = pooled[:, self.slices[head]]  # (batch, 1 or outputs, hidden)
            if self.per_output:
                logits[head] = torch.einsum("boh,oh->bo", own, layer.weight.to(own.dtype)) + layer.bias.to(own.dtype)
            else:
                logits[head] = layer(own[:, 0])
        return logits


def _exporting() -> bool:
    """Whether torch.export is tracing (`torch.compiler.is_exporting`, torch >= 2.6; False where it is missing)."""
    return bool(getattr(torch.compiler, "is_exporting", lambda: False)())


def turn_vectors(
    hidden: torch.Tensor, turn_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each turn's vector, the mean of its tokens' states (one scatter-add over the batch, no loop).

    `turn_ids` `(batch, seq_len)` holds each token's turn in its window (0, 1, ...), -1 for tokens of no turn.
    Returns `(vectors, present, counts)`: `(batch, turns, hidden)`, `(batch, turns)` bool (the turn has tokens;
    windows have different numbers of turns) and `(batch, turns)` token counts, `turns` = the batch's largest id + 1
    (at least 1). While torch.export traces the model (`helpline-fusion export`) `turns` is `seq_len` instead, a
    shape the graph can compute (the largest id is data): turn ids are below `seq_len`, and the extra slots hold no
    token, so they are absent, and every reader of the vectors masks absent turns out.
    """
    batch, seq_len, size = hidden.shape
    if _exporting():
        turns = seq_len
    else:
        turns = max(int(turn_ids.max()) + 1, 1) if turn_ids.numel() else 1
    inside = turn_ids >= 0
    # Tokens of no turn go to a spare slot per window (index `turns`), dropped after the sum.
    slot = torch.where(inside, turn_ids, torch.full_like(turn_ids, turns))
    flat = (slot + torch.arange(batch, device=hidden.device)[:, None] * (turns + 1)).reshape(-1)
    # Sums and counts in float32: under bf16 autocast a long turn's count (> 256 tokens) would not be exact.
    sums = torch.zeros(batch * (turns + 1), size, dtype=torch.float32, device=hidden.device)
    sums = sums.index_add_(0, flat, hidden.reshape(-1, size).float())
    counts = torch.zeros(batch * (turns + 1), dtype=torch.float32, device=hidden.device)
    counts = counts.index_add_(0, flat, inside.reshape(-1).float()).view(batch, turns + 1)[:, :turns]
    vectors = sums.view(batch, turns + 1, size)[:, :turns] / counts.clamp(min=1.0)[..., None]
    return vectors.to(hidden.dtype), counts > 0, counts


class TurnPooledMultiHead(nn.Module):
    """Speaker-aware quality heads (`qa_pooling: "turns"`): [layer mix ->] [LayerNorm ->] turn vectors -> per
    sub-metric `[attention over turns ; max over turns ; first turn ; last turn]` -> dropout -> that sub-metric's
    row of its head's linear layer.

    A turn's vector is the mean of its token states (`turn_vectors`): what the counsellor said in one turn, from the
    same encoder pass as every other head. Each sub-metric has its own learned query over the turns; the max over
    turns, shared by the sub-metrics, keeps a behaviour seen in any one turn whatever the attention does; the
    window's first and last counsellor turns are read as they are, because a turn vector does not say where in the
    call it stood and the opening and the closing are defined by their place (on frozen MiniLM states of held-out
    phrasing families these two lift opening from 0.74 to 0.93 and closing from 0.69 to 0.77 macro F1, logistic
    probe). A window with no turn (no counsellor token) pools to zeros. The pooling weights handed back for evidence are the turn attention spread evenly over each turn's
    tokens, so a sub-metric's evidence is the words of the turns it attended to (the max has no weights to show).
    """

    def __init__(
        self,
        hidden_size: int,
        sizes: dict[str, int],
        dropout: float,
        layer_norm: bool = False,
        mix_states: int | None = None,
        query_order: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.mix = LayerMix(mix_states) if mix_states else None
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else None
        self.slices: dict[str, slice] = {}
        queries = 0
        for head in query_order or list(sizes):
            self.slices[head] = slice(queries, queries + sizes[head])
            queries += sizes[head]
        self.turn_score = nn.Linear(hidden_size, queries)  # one learned query per sub-metric
        self.dropout = nn.Dropout(dropout)
        # Row j reads [attention pooling j ; max ; first turn ; last turn]: 4 x hidden inputs.
        self.heads = nn.ModuleDict({head: nn.Linear(4 * hidden_size, size) for head, size in sizes.items()})

    def features(
        self, hidden: torch.Tensor | tuple[torch.Tensor, ...], mask: torch.Tensor, turn_ids: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the heads' linear layers read, before dropout: `attended` `(batch, queries, hidden)` (each
        sub-metric's attention over the turns) and `shared` `(batch, 3 x hidden)` (`[max ; first turn ; last
        turn]`); with the turn weights `(batch, queries, turns)`, the turns' token counts and the masked turn ids
        that the evidence weights are spread from. Sub-metric `j` of head `h` reads `[attended[:, q] ; shared]`,
        `q` = `slices[h].start + j` (the refit's logistic fit, `qa_refit_c`, fits those rows on it)."""
        if turn_ids is None:
            raise ValueError(
                "turn_ids: this model's quality heads pool over counsellor turns (qa_pooling 'turns') and need "
                "each token's turn id (-1 outside counsellor turns); predict() and the tokenised quality data "
                "give them (speakers_attention_fusion.window_turn_ids)"
            )
        if self.mix is not None:
            hidden = self.mix(hidden)
        if self.norm is not None:
            hidden = self.norm(hidden)
        turn_ids = turn_ids.to(hidden.device).long().masked_fill(~mask.to(torch.bool), -1)
        vectors, present, counts = turn_vectors(hidden, turn_ids)  # (batch, turns, hidden), (batch, turns) x 2
        scores = self.turn_score(vectors).transpose(1, 2)  # (batch, queries, turns)
        scores = scores.masked_fill(~present[:, None, :], torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores.float(), dim=-1) * present.any(dim=-1)[:, None, None]  # no turn: zeros
        attended = torch.einsum("bqt,bth->bqh", weights.to(vectors.dtype), vectors)  # (batch, queries, hidden)
        lowest = torch.finfo(vectors.dtype).min
        peak = vectors.masked_fill(~present[..., None], lowest).max(dim=1).values  # (batch, hidden)
        peak = torch.where(present.any(dim=-1, keepdim=True), peak, torch.zeros_like(peak))
        # The first and the last turn present in each window (a window without turns reads zeros: its vectors are).
        order = torch.arange(present.shape[1], device=present.device)
        first = torch.where(present, order, present.shape[1]).min(dim=1).values.clamp(max=present.shape[1] - 1)
        last = torch.where(present, order, -1).max(dim=1).values.clamp(min=0)
        rows = torch.arange(vectors.shape[0], device=vectors.device)
        ends = torch.cat([vectors[rows, first], vectors[rows, last]], dim=-1)  # (batch, 2 x hidden)
        return attended, torch.cat([peak, ends], dim=-1), weights, counts, turn_ids

    def forward(
        self,
        hidden: torch.Tensor | tuple[torch.Tensor, ...],
        mask: torch.Tensor,
        head_weights: bool = False,
        turn_ids: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor] | tuple[dict[str, torch.Tensor], torch.Tensor, dict]:
        """As [`PooledMultiHead`], with `turn_ids` `(batch, seq_len)`: each token's counsellor turn, -1 elsewhere."""
        attended, shared, weights, counts, turn_ids = self.features(hidden, mask, turn_ids)
        attended, shared = self.dropout(attended), self.dropout(shared)
        size = attended.shape[-1]
        logits = {}
        for head, layer in self.heads.items():
            weight = layer.weight.to(attended.dtype)  # (outputs, 4 x hidden): [attention | max | first | last]
            own = attended[:, self.slices[head]]  # (batch, outputs, hidden)
            logits[head] = (
                torch.einsum("boh,oh->bo", own, weight[:, :size]) + shared @ weight[:, size:].T
                + layer.bias.to(attended.dtype)
            )
        # The turn weights spread over each turn's tokens: (batch, queries, seq_len).
        per_token = weights / counts.clamp(min=1.0)[:, None, :]
        token_weights = per_token.gather(2, turn_ids.clamp(min=0)[:, None, :].expand(-1, per_token.shape[1], -1))
        token_weights = token_weights * (turn_ids >= 0)[:, None, :]
        if not head_weights:
            return logits, token_weights.mean(dim=1)
        by_head = {head: token_weights[:, self.slices[head]] for head in self.heads}
        return logits, token_weights.mean(dim=1), by_head


# --------------------------------------------------------------------------- losses
def ner_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over tagged tokens; `-100` (sub-words, specials, padding) is ignored."""
    labels = labels.to(logits.device)
    if not (labels != -100).any():
        return logits.sum() * 0.0  # keeps the graph, adds nothing
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1), ignore_index=-100)


def cls_loss(
    logits: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor],
    class_weights: dict[str, list[float]] | None = None,
) -> torch.Tensor:
    """Sum over heads of cross-entropy (weighted per class where `class_weights` names the head); `-100` means
    "no label for this head" and adds nothing."""
    total = sum(value.sum() * 0.0 for value in logits.values())
    for head, head_labels in labels.items():
        head_labels = head_labels.to(logits[head].device).long()
        if (head_labels != -100).any():
            weight = (class_weights or {}).get(head)
            if weight is not None:
                weight = torch.tensor(weight, dtype=torch.float32, device=logits[head].device)
            total = total + F.cross_entropy(logits[head].float(), head_labels, weight=weight, ignore_index=-100)
    return total


def qa_loss(logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over heads of masked BCE: a sub-metric labelled `-100` (not applicable) adds no loss."""
    total = sum(value.sum() * 0.0 for value in logits.values())
    for head, head_labels in labels.items():
        head_labels = head_labels.to(logits[head].device).float()
        mask = head_labels != -100
        if mask.any():
            per_item = F.binary_cross_entropy_with_logits(
                logits[head].float(), head_labels.clamp(0.0, 1.0), reduction="none"
            )
            total = total + (per_item * mask).sum() / mask.sum()
    return total


# --------------------------------------------------------------------------- outputs
@dataclass
class AttentionFusionOutput(ModelOutput):
    """Output of [`AttentionFusionModel`].

    Args:
        loss: weighted sum of the losses of the tasks that got labels.
        ner_logits: `(batch, seq_len, num_tags)`.
        cls_logits: `{head: (batch, num_classes)}` for the four case heads.
        qa_logits: `{head: (batch, num_sub_metrics)}` for the six quality heads.
        task_losses: unweighted loss per task (`{"ner": ..., "cls": ..., "qa": ...}`), for logging.
        pooling_weights: `{task: (batch, seq_len)}` when asked for with `output_pooling_weights=True`.
        head_pooling_weights: with `output_pooling_weights=True`, `{task: {head: (batch, n, seq_len)}}`: the pooling
            each case head (`n` = 1) and each quality head's sub-metrics (`n` = its sub-metrics with
            `pool_per_head`, else 1: one pooling shared by the task) read; what evidence spans are made of.
    """

    loss: torch.Tensor | None = None
    ner_logits: torch.Tensor | None = None
    cls_logits: dict[str, torch.Tensor] | None = None
    qa_logits: dict[str, torch.Tensor] | None = None
    task_losses: dict[str, torch.Tensor] | None = None
    pooling_weights: dict[str, torch.Tensor] | None = None
    head_pooling_weights: dict[str, dict[str, torch.Tensor]] | None = None


# --------------------------------------------------------------------------- model
class AttentionFusionPreTrainedModel(PreTrainedModel):
    config_class = AttentionFusionConfig
    # A prefix no attribute carries: the composite is never loaded as "base model + head".
    base_model_prefix = "attention_fusion"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module: nn.Module) -> None:
        # Only the heads live here; the encoder is a PreTrainedModel with its own initialisation, and
        # pretrained encoder weights must survive `post_init()`.
        std = getattr(self.config.encoder_config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, LayerMix):
            init.zeros_(module.logits)


class AttentionFusionModel(FusionPredictorMixin, AttentionFusionPreTrainedModel):
    r"""A shared encoder with a NER head, four case heads and six call-quality heads.

    `forward(..., task="ner" | "cls" | "qa")` runs the encoder once and that task's head only (training);
    `task=None` runs the encoder once and every head (inference).

    Example:
        >>> from transformers import BertConfig
        >>> config = AttentionFusionConfig(encoder_config=BertConfig(vocab_size=99, hidden_size=32,
        ...     num_hidden_layers=2, num_attention_heads=4, intermediate_size=37))
        >>> model = AttentionFusionModel(config)
        >>> out = model(input_ids=torch.tensor([[2, 5, 7, 3]]), attention_mask=torch.ones(1, 4, dtype=torch.long))
        >>> out.ner_logits.shape, sorted(out.cls_logits), sorted(out.qa_logits)[:2]
        (torch.Size([1, 4, 19]), ['intervention', 'main_category', 'priority', 'sub_category'], ['closing', 'hold'])
    """

    # Each task's loss is a mean over its own labels; `forward` takes no `num_items_in_batch`. Without this the
    # Trainer would infer from `**kwargs` that the model normalises for gradient accumulation and skip its own
    # division for batches whose labels it can count (NER tensors) but not for the others (case/quality dicts).
    accepts_loss_kwargs = False

    def __init__(self, config: AttentionFusionConfig, encoder: PreTrainedModel | None = None) -> None:
        super().__init__(config)
        if encoder is None:
            encoder = AutoModel.from_config(config.encoder_config, **_encoder_kwargs(config.encoder_config))
        self.encoder = encoder
        # The encoder may have been loaded with its own settings (e.g. attention implementation): share them.
        self.config.encoder_config = self.encoder.config
        hidden_size = _hidden_size(self.encoder.config)
        dropout = config.classifier_dropout

        self.ner_head = None
        if "ner" in config.tasks:
            self.ner_head = NerHead(hidden_size, num_tags=len(config.ner_labels), dropout=dropout, kind=config.ner_head)
        # With the layer mix, the sentence-level heads read every hidden state: the embeddings and each layer.
        mix_states = _num_layers(self.encoder.config) + 1 if config.pool_layer_mix else None
        self.cls_head = None
        if "cls" in config.tasks:
            self.cls_head = PooledMultiHead(
                hidden_size,
                sizes={head: len(labels) for head, labels in config.case_heads.items()},
                pooling=config.pooling["cls"],
                dropout=dropout,
                layer_norm=config.pool_layer_norm,
                mix_states=mix_states,
                per_head=config.pool_per_head,
                query_order=pooling_query_order(config.case_heads, CASE_HEADS),
            )
        if getattr(config, "qa_state_layer", None) is not None and config.qa_state_layer > _num_layers(self.encoder.config):
            raise ValueError(
                f"qa_state_layer: {config.qa_state_layer} is past the encoder's last layer "
                f"({_num_layers(self.encoder.config)})"
            )
        qa_sizes = {head: len(names) for head, names in config.qa_heads.items()}
        qa_order = pooling_query_order(config.qa_heads, QA_HEADS)
        if "qa" not in config.tasks:
            self.qa_head = None
        elif getattr(config, "qa_pooling", "tokens") == "turns":  # speaker-aware: pool over counsellor turns
            self.qa_head = TurnPooledMultiHead(
                hidden_size,
                sizes=qa_sizes,
                dropout=dropout,
                layer_norm=config.pool_layer_norm,
                mix_states=mix_states,
                query_order=qa_order,
            )
        else:
            self.qa_head = PooledMultiHead(
                hidden_size,
                sizes=qa_sizes,
                pooling=config.pooling["qa"],
                dropout=dropout,
                layer_norm=config.pool_layer_norm,
                mix_states=mix_states,
                per_head=config.pool_per_head,
                per_output=True,
                query_order=qa_order,
            )
        self.post_init()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_encoder_pretrained(
        cls,
        encoder_name_or_path: str,
        encoder_kwargs: dict[str, Any] | None = None,
        labels: dict[str, Any] | None = None,
        **config_kwargs: Any,
    ) -> AttentionFusionModel:
        """Start fresh training from a pretrained encoder (a Hub id or a local folder); heads are new.

        `labels` (optional) gives the label lists as `label_maps.json` holds them: `{"ner": [entity types] (or
        {"entity_types": [...]}), "case": {head: [labels]}, "qa": {head: [sub-metrics]}, "sub_to_main": {...}}`,
        any part left out taking the label reference's; the config keywords (`ner_entity_types`, `case_heads`,
        `qa_heads`, `sub_to_main`) do the same.

        Example:
            >>> model = AttentionFusionModel.from_encoder_pretrained("distilbert-base-cased")  # doctest: +SKIP
            >>> model = AttentionFusionModel.from_encoder_pretrained(path, labels={"ner": ["NAME", "AGE"]})  # doctest: +SKIP
        """
        config_kwargs = {**_label_kwargs(labels or {}), **config_kwargs}
        encoder_kwargs = {**_encoder_kwargs(AutoConfig.from_pretrained(encoder_name_or_path)), **(encoder_kwargs or {})}
        # The pooler is left out on purpose, so its checkpoint weights are expected to be unused: transformers' load
        # report (a warning table) is replaced by a warning about anything else that did not load.
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()
        try:
            encoder, info = AutoModel.from_pretrained(encoder_name_or_path, output_loading_info=True, **encoder_kwargs)
        finally:
            hf_logging.set_verbosity(verbosity)
        dropped = "pooler." if encoder_kwargs.get("add_pooling_layer") is False else None
        unexpected = sorted(k for k in info["unexpected_keys"] if not (dropped and k.startswith(dropped)))
        if unexpected or info["missing_keys"] or info["mismatched_keys"]:
            logger.warning(
                "encoder %s: weights not loaded as saved: missing %s, unused %s, size-mismatched %s",
                encoder_name_or_path, sorted(info["missing_keys"]), unexpected,
                sorted(key for key, *_ in info["mismatched_keys"]),
            )  # fmt: skip
        config = AttentionFusionConfig(encoder_config=encoder.config, **config_kwargs)
        return cls(config, encoder=encoder)

    def pooling_states(self, encoded: Any, task: str) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """What a sentence-level task's pooling reads from the encoder's output `encoded` (run with
        `output_hidden_states` where needed): every layer's states for the layer mix, the states of layer
        `qa_state_layer` for the quality heads when it is set, else the last layer's."""
        if self.config.pool_layer_mix:
            return encoded.hidden_states
        layer = self._state_layer(task)
        if layer is not None:
            return encoded.hidden_states[layer]
        return encoded.last_hidden_state

    def _state_layer(self, task: str) -> int | None:
        """The one encoder layer `task`'s heads read, where its `TaskInfo.state_layer` field is set in the config."""
        field = TASK_INFO[task].state_layer
        return getattr(self.config, field, None) if field else None

    # ------------------------------------------------------------------ freezing
    def freeze_encoder_layers(self, count: int, frozen: bool = True) -> None:
        """Freeze (or unfreeze) the encoder's embeddings and its lowest `count` transformer layers. With
        `qa_state_layer: count` the quality heads then read states that training never changes: what the
        pretrained encoder knows about paraphrase stays theirs, whatever the NER and case steps do above."""
        total = _num_layers(self.encoder.config)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= total:
            raise ValueError(f"freeze_encoder_layers: expected a number of layers from 0 to {total}, got {count!r}")
        stacks = [m for m in self.encoder.modules() if isinstance(m, nn.ModuleList) and len(m) == total]
        if not stacks:
            raise ValueError(f"freeze_encoder_layers: found no list of {total} layers in {type(self.encoder).__name__}")
        if count:
            self.freeze_embeddings(frozen)
        for layer in stacks[0][:count]:
            layer.requires_grad_(not frozen)

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) the whole shared encoder, e.g. to train new heads only."""
        self.encoder.requires_grad_(not frozen)

    def freeze_embeddings(self, frozen: bool = True) -> None:
        """Freeze (or unfreeze) the encoder's input embeddings."""
        self.encoder.get_input_embeddings().requires_grad_(not frozen)
        embeddings = getattr(self.encoder, "embeddings", None)
        if isinstance(embeddings, nn.Module):
            embeddings.requires_grad_(not frozen)

    def freeze_head(self, task: str, frozen: bool = True) -> None:
        """Freeze (or unfreeze) one task's head (`"ner"`, `"cls"` or `"qa"`)."""
        head = self.task_head(task)
        head.requires_grad_(not frozen)

    def task_head(self, task: str) -> nn.Module:
        if task not in TASKS:
            raise ValueError(f"task: unknown task {task!r}; valid: {list(TASKS)}")
        head = getattr(self, TASK_INFO[task].head)
        if head is None:
            raise ValueError(f"task: this model has no {task!r} head; it was built for tasks {self.config.tasks}")
        return head

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.encoder.set_input_embeddings(value)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.LongTensor | None = None,
        task: str | None = None,
        labels: torch.Tensor | dict[str, torch.Tensor] | None = None,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        output_pooling_weights: bool = False,
        return_dict: bool | None = None,
        turn_ids: torch.LongTensor | None = None,
        ner_labels: torch.LongTensor | None = None,
        cls_labels: dict[str, torch.LongTensor] | None = None,
        qa_labels: dict[str, torch.FloatTensor] | None = None,
        **kwargs: Any,
    ) -> AttentionFusionOutput:
        r"""
        input_ids (`torch.LongTensor` of shape `(batch, seq_len)`): token ids of the windows.
        attention_mask (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): 1 for tokens, 0 for padding.
        task (`str`, *optional*): `"ner"`, `"cls"` or `"qa"` runs that task's head only (a training batch holds one
            task); `None` runs every head of the model.
        ner_labels (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): BIO tag ids (`-100`: not scored,
            e.g. special tokens and padding). Gives `task_losses["ner"]`.
        cls_labels (`dict[str, torch.LongTensor]`, *optional*): per case head (`"priority"`, ...) the `(batch,)`
            class ids (`-100`: no label for this head). Gives `task_losses["cls"]`.
        qa_labels (`dict[str, torch.FloatTensor]`, *optional*): per quality head (`"opening"`, ...) the
            `(batch, num_sub_metrics)` 0/1 values (`-100`: not applicable). Gives `task_losses["qa"]`.
        labels (*optional*): the labels of `task`, as the training collator gives them (a batch holds one task):
            the same as passing them as `ner_labels`, `cls_labels` or `qa_labels`. Needs `task`.
        turn_ids (`torch.LongTensor` of shape `(batch, seq_len)`, *optional*): each token's counsellor turn in its
            window (0, 1, ...; -1 elsewhere), read by quality heads that pool over turns (`qa_pooling: "turns"`),
            which need it; `speakers_attention_fusion.window_turn_ids` makes it. Other heads ignore it.
        output_pooling_weights (`bool`): also return each sentence-level head's pooling weights (evidence).

        Returns:
            [`AttentionFusionOutput`]: `loss` is the `task_loss_weights`-weighted sum of the losses of the tasks
            given labels.

        Example:
            >>> out = model(input_ids=ids, attention_mask=mask, task="cls", cls_labels={"priority": torch.tensor([0])})  # doctest: +SKIP
            >>> out.task_losses["cls"]  # doctest: +SKIP
        """
        tasks = self._tasks_for(task)
        task_labels = self._task_labels(task, labels, {"ner": ner_labels, "cls": cls_labels, "qa": qa_labels})
        if attention_mask is None:
            attention_mask = _full_mask(input_ids, inputs_embeds)
        encoded = self._encode(input_ids, attention_mask, token_type_ids, inputs_embeds, tasks)
        logits, pooling_weights, head_weights = self._run_heads(
            encoded, tasks, attention_mask, turn_ids, output_pooling_weights
        )
        task_losses = self._task_losses(logits, task_labels)
        return AttentionFusionOutput(
            loss=self._weighted_loss(task_losses),
            ner_logits=logits.get("ner"),
            cls_logits=logits.get("cls"),
            qa_logits=logits.get("qa"),
            task_losses=task_losses or None,
            pooling_weights=pooling_weights if output_pooling_weights else None,
            head_pooling_weights=head_weights if output_pooling_weights else None,
        )

    def _run_heads(
        self,
        encoded: Any,
        tasks: list[str],
        attention_mask: torch.LongTensor,
        turn_ids: torch.LongTensor | None,
        output_pooling_weights: bool,
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
        """`(logits, pooling_weights, head_pooling_weights)` of the heads of `tasks` over the encoder's output."""
        hidden = encoded.last_hidden_state  # (batch, seq_len, hidden)

        logits: dict[str, Any] = {}
        pooling_weights: dict[str, torch.Tensor] = {}  # task -> (batch, seq_len)
        head_weights: dict[str, dict[str, torch.Tensor]] = {}  # task -> head -> (batch, n, seq_len)
        if "ner" in tasks:
            logits["ner"] = self.ner_head(hidden)  # (batch, seq_len, num_tags)
        for name in SENTENCE_TASKS:
            if name in tasks:
                head = getattr(self, TASK_INFO[name].head)
                extra = {"turn_ids": turn_ids} if isinstance(head, TurnPooledMultiHead) else {}
                # {head: (batch, classes)}, (batch, seq_len)[, {head: (batch, n, seq_len)}]
                logits[name], pooling_weights[name], *by_head = head(
                    self.pooling_states(encoded, name), attention_mask, output_pooling_weights, **extra
                )
                head_weights[name] = by_head[0] if by_head else {}
        return logits, pooling_weights, head_weights

    def _weighted_loss(self, task_losses: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The `task_loss_weights`-weighted sum of the task losses; None without any."""
        loss = None
        if task_losses:
            weights = self.config.task_loss_weights
            loss = sum(weights[name] * value for name, value in task_losses.items())
        return loss

    def _encode(
        self,
        input_ids: torch.LongTensor | None,
        attention_mask: torch.LongTensor,
        token_type_ids: torch.LongTensor | None,
        inputs_embeds: torch.FloatTensor | None,
        tasks: list[str],
    ) -> Any:
        """One pass of the shared encoder, with every layer's states when a task's pooling reads more than the last
        (`pooling_states`). Token types are passed only where given: not every encoder takes them."""
        inputs: dict[str, Any] = {"attention_mask": attention_mask}
        if inputs_embeds is not None:
            inputs["inputs_embeds"] = inputs_embeds
        else:
            inputs["input_ids"] = input_ids
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        mixing = self.config.pool_layer_mix and bool({"cls", "qa"} & set(tasks))
        one_layer = any(self._state_layer(task) is not None for task in tasks)
        return self.encoder(**inputs, output_hidden_states=mixing or one_layer, return_dict=True)

    def _task_losses(self, logits: dict[str, Any], task_labels: dict[str, Any]) -> dict[str, torch.Tensor]:
        """The unweighted loss of each task that has both logits and labels."""
        losses: dict[str, torch.Tensor] = {}
        if "ner" in logits and task_labels.get("ner") is not None:
            losses["ner"] = ner_loss(logits["ner"], task_labels["ner"])
        if "cls" in logits and task_labels.get("cls") is not None:
            losses["cls"] = cls_loss(logits["cls"], task_labels["cls"], self.config.case_class_weights)
        if "qa" in logits and task_labels.get("qa") is not None:
            losses["qa"] = qa_loss(logits["qa"], task_labels["qa"])
        return losses

    def _tasks_for(self, task: str | None) -> list[str]:
        if task is None:
            return list(self.config.tasks)
        self.task_head(task)  # raises a clear error for an unknown or absent task
        return [task]

    @staticmethod
    def _task_labels(task: str | None, labels: Any, typed: dict[str, Any]) -> dict[str, Any]:
        """The labels per task: the typed `ner_labels` / `cls_labels` / `qa_labels`, with `labels` standing for
        those of `task`."""
        if labels is None:
            return typed
        if task is None:
            raise ValueError(
                "labels: give `task` with `labels` (a batch of one task), or pass each task's labels as "
                "ner_labels=, cls_labels=, qa_labels="
            )
        if typed[task] is not None:
            raise ValueError(f"labels: given both labels and {task}_labels for task {task!r}; pass one")
        return {**typed, task: labels}


# --------------------------------------------------------------------------- helpers
def _full_mask(input_ids: torch.LongTensor | None, inputs_embeds: torch.FloatTensor | None) -> torch.LongTensor:
    """An attention mask of ones over every token of the batch (no padding)."""
    reference = input_ids if input_ids is not None else inputs_embeds[..., 0]
    return torch.ones(reference.shape[:2], dtype=torch.long, device=reference.device)


def _label_kwargs(labels: dict[str, Any]) -> dict[str, Any]:
    """`label_maps.json`-shaped labels -> the config keywords (`from_encoder_pretrained(labels=...)`)."""
    unknown = sorted(set(labels) - {"ner", "case", "qa", "sub_to_main", "priority_critical"})
    if unknown:
        raise ValueError(f"labels: unknown keys {unknown}; expected ner, case, qa, sub_to_main, priority_critical")
    ner = labels.get("ner")
    kwargs = {"ner_entity_types": ner.get("entity_types") if isinstance(ner, dict) else ner, "case_heads":
              labels.get("case"), "qa_heads": labels.get("qa"), "sub_to_main": labels.get("sub_to_main"),
              "critical_priority": labels.get("priority_critical")}  # fmt: skip
    return {key: value for key, value in kwargs.items() if value is not None}


def _config_int(encoder_config: Any, names: tuple[str, ...], what: str) -> int:
    """The first of `names` the encoder config has as an int (architectures name their sizes differently)."""
    for name in names:
        value = getattr(encoder_config, name, None)
        if isinstance(value, int):
            return value
    raise ValueError(f"encoder_config: cannot find the {what} of a {type(encoder_config).__name__}")


def _num_layers(encoder_config: Any) -> int:
    return _config_int(encoder_config, ("num_hidden_layers", "n_layers", "num_layers"), "number of layers")


def _hidden_size(encoder_config: Any) -> int:
    return _config_int(encoder_config, ("hidden_size", "dim", "d_model"), "hidden size")


def _encoder_kwargs(encoder_config: Any) -> dict[str, Any]:
    """Constructor options for the encoder: BERT-like encoders drop their unused pooler layer."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    model_class = MODEL_MAPPING.get(type(encoder_config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


__all__ = [
    "AttentionFusionModel",
    "AttentionFusionOutput",
    "AttentionFusionPreTrainedModel",
    "TaskAttentionPooling",
    "TurnPooledMultiHead",
    "SENTENCE_TASKS",
]
