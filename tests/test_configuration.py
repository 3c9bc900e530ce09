"""AttentionFusionConfig: the label reference as defaults, nested encoder configs and exact errors."""

from __future__ import annotations

import json

import pytest

from helpline_fusion.modeling_attention_fusion import AttentionFusionConfig, bio_tags

from .conftest import tiny_bert_config, tiny_distilbert_config


def test_default_config_is_the_label_reference():
    config = AttentionFusionConfig()
    assert config.model_type == "helpline_attention_fusion"
    assert config.ner_entity_types == [
        "NAME", "LOCATION", "VICTIM", "AGE", "GENDER", "INCIDENT_TYPE", "PERPETRATOR", "PHONE_NUMBER", "LANDMARK",
    ]
    assert len(config.ner_labels) == 19 and config.ner_labels[:3] == ["O", "B-NAME", "I-NAME"]
    assert config.id2label[1] == "B-NAME" and config.label2id["I-LANDMARK"] == 18
    assert list(config.case_heads) == ["main_category", "sub_category", "intervention", "priority"]
    assert config.case_heads["priority"] == ["1", "2", "3"]
    assert len(config.case_heads["main_category"]) == 8 and "Unknown" in config.case_heads["main_category"]
    assert config.main_category_of("Legal issues") == "Advice and Counselling"
    assert config.main_category_of("Legal Issues") == "Information"
    assert config.main_category_of("Something new") == "Unknown"
    assert {head: len(names) for head, names in config.qa_heads.items()} == {
        "opening": 1, "listening": 5, "proactiveness": 3, "resolution": 5, "hold": 2, "closing": 1,
    }
    assert sum(len(names) for names in config.qa_heads.values()) == 17
    assert config.qa_heads["hold"] == ["explains before placing on hold", "thanks caller for holding"]
    assert config.encoder_config.model_type == "distilbert"
    assert config.pooling == {"cls": "attention", "qa": "attention"}


def test_bio_tags():
    assert bio_tags(["A", "B"]) == ["O", "B-A", "I-A", "B-B", "I-B"]


@pytest.mark.parametrize("encoder_config", [tiny_bert_config(), tiny_distilbert_config()])
def test_round_trip_keeps_everything_and_no_local_path(tmp_path, encoder_config):
    encoder_config._name_or_path = str(tmp_path / "some" / "local" / "encoder")
    config = AttentionFusionConfig(
        encoder_config=encoder_config,
        case_heads={"priority": ["1", "2", "3"], "sub_category": ["A", "B"]},
        pooling={"cls": "mean"},
        task_loss_weights={"qa": 0.5},
    )
    config.save_pretrained(tmp_path)
    text = (tmp_path / "config.json").read_text()
    assert str(tmp_path) not in text and "/some/local/" not in text
    on_disk = json.loads(text)
    assert "_name_or_path" not in on_disk["encoder_config"]
    loaded = AttentionFusionConfig.from_pretrained(tmp_path)
    assert type(loaded.encoder_config) is type(encoder_config)
    assert loaded.encoder_config.num_hidden_layers == 2
    assert loaded.case_heads == {"priority": ["1", "2", "3"], "sub_category": ["A", "B"]}
    assert loaded.pooling == {"cls": "mean", "qa": "attention"}
    assert loaded.task_loss_weights == {"ner": 1.0, "cls": 1.0, "qa": 0.5}
    assert loaded.id2label == config.id2label and all(isinstance(key, int) for key in loaded.id2label)


def test_encoder_config_as_dict():
    config = AttentionFusionConfig(encoder_config={"model_type": "bert", "hidden_size": 48, "num_attention_heads": 4})
    assert config.encoder_config.model_type == "bert" and config.encoder_config.hidden_size == 48


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "max"}, "pooling['cls']: unknown pooling 'max'; valid: ['attention', 'cls', 'mean']"),
        ({"pooling": {"qa": "sum"}}, "pooling['qa']: unknown pooling 'sum'; valid: ['attention', 'cls', 'mean']"),
        ({"pooling": {"ner": "mean"}}, "pooling: unknown task 'ner'; pooling applies to ['cls', 'qa']"),
        ({"case_heads": {"priority": []}}, "case_heads['priority']: the label list is empty or not a list (got []); give at least one label"),
        ({"case_heads": {"priority": ["1", "2", "1"]}}, "case_heads['priority']: duplicated labels ['1']; every label must appear once"),
        ({"qa_heads": {"hold": ["a", "a"]}}, "qa_heads['hold']: duplicated labels ['a']; every label must appear once"),
        ({"ner_entity_types": ["NAME", "NAME"]}, "ner_entity_types: duplicated labels ['NAME']; every label must appear once"),
        ({"classifier_dropout": 1.5}, "classifier_dropout: 1.5 is not in [0, 1)"),
        ({"task_loss_weights": {"pos": 1.0}}, "task_loss_weights: unknown task 'pos'; valid: ['ner', 'cls', 'qa']"),
        ({"tasks": ["ner", "pos"]}, "tasks: ['ner', 'pos'] must be a non-empty subset of ['ner', 'cls', 'qa']"),
        ({"critical_priority": "4"}, "critical_priority: '4' is not one of the priority labels ['1', '2', '3']"),
        ({"qa_thresholds": {"hold": [0.5]}}, "qa_thresholds['hold']: 1 values for 2 sub-metrics"),
        ({"window_stride": 600}, "window_stride: 600 must be in [0, window_length=512)"),
        ({"qa_window_scope": {"greeting": "first"}}, "qa_window_scope: unknown quality head 'greeting'; valid: ['opening', 'listening', 'proactiveness', 'resolution', 'hold', 'closing']"),
        ({"qa_window_scope": {"closing": "end"}}, "qa_window_scope['closing']: expected one of ['all', 'first', 'last'], got 'end'"),
        ({"encoder_config": {"hidden_size": 3}}, "encoder_config: the dict has no 'model_type'; expected e.g. 'bert' or 'distilbert'"),
    ],
)
def test_invalid_values_raise_exact_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        AttentionFusionConfig(**kwargs)
    assert str(error.value) == message


def test_the_model_settings_map_one_to_one_onto_the_config_and_each_setting_is_in_one_group():
    """`ModelArguments.config_kwargs` is the one settings-to-config mapping (issue 28.3): each model setting named
    as the config field it sets; unset ones leave the config's default; the groups split the settings without
    overlap, and `ProjectArguments` is all of them."""
    import dataclasses

    from helpline_fusion.train.run_settings import IN_MODEL_CONFIG
    from helpline_fusion.train.settings import CONFIG_SETTINGS, GROUPS, ModelArguments, ProjectArguments

    groups = [{f.name for f in dataclasses.fields(group)} for group in GROUPS.values()]
    assert sum(map(len, groups)) == len(set().union(*groups)) == len(dataclasses.fields(ProjectArguments))
    assert set(CONFIG_SETTINGS) <= {f.name for f in dataclasses.fields(ModelArguments)}
    assert IN_MODEL_CONFIG == {name: name for name in CONFIG_SETTINGS}  # what older folders are read back by
    project = ProjectArguments(tasks=["ner", "qa"], window_length=256, window_stride=64, pool_per_head=True,
                               ner_head="mlp", loss_weight_qa=2.0, classifier_dropout=0.2)  # fmt: skip
    kwargs = project.config_kwargs()
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), **kwargs)
    for name in CONFIG_SETTINGS:
        value = getattr(project, name)
        if value is None:
            assert name not in kwargs  # unset: the config's default (or the parent model's)
        elif name == "pooling":  # the config holds it per sentence-level task
            assert config.pooling == AttentionFusionConfig(pooling=value).pooling
        else:
            assert getattr(config, name) == value, name
    assert config.task_loss_weights == {"ner": 1.0, "cls": 1.0, "qa": 2.0}
    assert "ner_head" not in ProjectArguments().config_kwargs()


def test_the_window_scope_defaults_to_the_schema_and_survives_a_round_trip(tmp_path):
    config = AttentionFusionConfig(encoder_config=tiny_bert_config(), qa_pooling="turns")
    assert config.qa_window_scope == {"opening": "first", "closing": "last"}
    assert AttentionFusionConfig(encoder_config=tiny_bert_config()).qa_window_scope == {}  # token pooling: all
    config.save_pretrained(tmp_path / "scoped")
    assert AttentionFusionConfig.from_pretrained(tmp_path / "scoped").qa_window_scope == config.qa_window_scope
    every = AttentionFusionConfig(encoder_config=tiny_bert_config(), qa_pooling="turns", qa_window_scope={"opening": "all"})
    assert every.qa_window_scope == {}  # every window for every head, and so after saving
    every.save_pretrained(tmp_path / "every")
    assert AttentionFusionConfig.from_pretrained(tmp_path / "every").qa_window_scope == {}
    mine = AttentionFusionConfig(encoder_config=tiny_bert_config(), qa_pooling="turns", qa_heads={"greeting": ["x"]})
    assert mine.qa_window_scope == {}  # a schema without an opening or closing head
