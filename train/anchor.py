"""`qa_anchor_weight`: keep the quality heads' states near the pretrained encoder's while the shared encoder trains.

Fine-tuning the shared encoder for NER and the case heads (and for the quality heads themselves, on a few hundred
synthetic calls) overwrites what the pretrained sentence encoder knows about paraphrase, which is what lets a
quality head recognise a behaviour worded unlike its training calls. Freezing the lower layers keeps it but costs
NER (docs/results.md). The anchor keeps it in the one place the quality heads read: on every quality batch it adds

    weight x sum over counsellor turns ||s - t||^2 / sum over counsellor turns ||t||^2

where `s` are the turn vectors (mean of a turn's token states, the vectors the turn-pooling quality heads read) of
the layer the quality heads read (`qa_state_layer`, else the last) and `t` the same vectors from a frozen copy of the
encoder as training found it. Windows without turn ids (token pooling) use their mean token state, one vector per
window. The rest of each state, and every NER and case step, stay free. It is a training loss only: the frozen copy
lives on the trainer, is never saved, and inference is still one encoder pass.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..modeling_attention_fusion.modeling_attention_fusion import _num_layers, turn_vectors


class EncoderAnchor:
    """The frozen copy of `model`'s encoder (cut after the layer the quality heads read) and the anchor loss."""

    def __init__(self, model: nn.Module, weight: float) -> None:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"qa_anchor_weight: expected a positive weight, got {weight!r}")
        self.weight = float(weight)
        self.layer = getattr(model.config, "qa_state_layer", None)
        total = _num_layers(model.encoder.config)
        self.frozen = copy.deepcopy(model.encoder).eval().requires_grad_(False)
        if self.layer is not None and self.layer < total:  # the layers above it are never read: drop them
            stacks = [m for m in self.frozen.modules() if isinstance(m, nn.ModuleList) and len(m) == total]
            if stacks:
                del stacks[0][max(self.layer, 1):]
        self._encoder, self._output, self._hook = model.encoder, None, None
        self.attach()

    def attach(self) -> None:
        """Keep the model's encoder output of each training pass (again after `remove`)."""
        if self._hook is None:
            self._hook = self._encoder.register_forward_hook(self._keep_output)

    def _keep_output(self, module: nn.Module, args: Any, output: Any) -> None:
        if module.training:  # training passes only; a quality batch's is read by `loss`
            self._output = output

    @staticmethod
    def _read(output: Any, layer: int | None) -> torch.Tensor:
        if layer is None:
            return output.last_hidden_state
        if output.hidden_states is None:
            raise ValueError("qa_anchor_weight: the encoder gave no hidden states for qa_state_layer")
        return output.hidden_states[layer]

    def loss(self, inputs: dict[str, Any]) -> torch.Tensor:
        """The anchor loss of the quality batch `inputs` the model has just run on (its states kept by the hook)."""
        if self._output is None:
            raise RuntimeError("qa_anchor_weight: the model's encoder has not run on this batch")
        student, self._output = self._read(self._output, self.layer), None
        mask = inputs["attention_mask"].to(torch.bool)
        encoder_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        if inputs.get("token_type_ids") is not None:
            encoder_inputs["token_type_ids"] = inputs["token_type_ids"]
        self.frozen.to(student.device)
        with torch.no_grad():
            output = self.frozen(**encoder_inputs, output_hidden_states=self.layer is not None, return_dict=True)
            teacher = self._read(output, self.layer)  # kept: the copy runs up to max(layer, 1)
        turn_ids = inputs.get("turn_ids")
        if turn_ids is None:  # token pooling: one vector per window, the mean of its tokens
            turn_ids = torch.zeros_like(mask, dtype=torch.long)
        turn_ids = turn_ids.to(student.device).long().masked_fill(~mask, -1)
        s, present, _ = turn_vectors(student.float(), turn_ids)
        t, _, _ = turn_vectors(teacher.float(), turn_ids)
        present = present[..., None].float()
        scale = ((t**2) * present).sum().clamp(min=1e-6)
        return self.weight * (((s - t) ** 2) * present).sum() / scale

    def remove(self) -> None:
        """Detach from the model (after training: a copy of the model must not carry the frozen encoder along)."""
        if self._hook is not None:
            self._hook.remove()
        self._hook, self._output = None, None
