"""The label reference of the helpline attention-fusion model: the three tasks, entity types, case heads and
call-quality heads.

Plain data and the standard library only, so the data tools (`helpline-fusion generate`, `validate`) read the
schema without importing torch or transformers. Ships to the Hub beside `configuration_attention_fusion.py`,
which takes its defaults from here.

The three tasks, named once
---------------------------
One rule: **in code a task is its id** (`TASKS`): identifiers (`decide_cls`, `fold_qa`, `cls_metrics`,
`cls_logits`), dict keys (`tasks`, `pooling`, `task_loss_weights`, `temperatures`), the `task` column of batches
and the metric keys (`eval_cls_priority_accuracy`, `eval_qa_macro_f1`). **The result word** (`TASK_RESULT_KEYS`) is
what a user reads: the keys of `predict()`'s results, the review groups, which are paths into those results
(`case.priority`, `quality.hold`), and the model card, whose prose uses the title (`TASK_TITLES`). Each task is one
`TaskInfo` in `TASK_INFO` (the table's columns: the payload side of the task registry; the training package's
`train/tasks.py` adds the data side), and code iterates over it rather than branching on task ids.

| task id | result word | title | config fields (in config.json) | model output | data setting |
|---|---|---|---|---|---|
| `ner` | `entities` | NER | `ner_entity_types`, `ner_head`, `ner_label_all_subwords` | `ner_logits` | `ner_file` |
| `cls` | `case` | case classification | `case_heads`, `case_class_weights` | `cls_logits` | `cases_file` |
| `qa` | `quality` | call quality | `qa_heads`, `qa_thresholds` | `qa_logits` | `qa_file` |

Names that published models, their files and their metric histories already carry keep their spelling where it
breaks the rule: the config fields `case_heads` and `case_class_weights`, the `case` key of `label_maps.json`,
and the calibration report (`calibration.json`: `ece_case`, `ece_quality`; the metrics `calib_ece_case_*`,
`calib_ece_quality_*`, `calib_review_case_*`, `calib_review_quality_*`, the review ones named after the review
groups). The data settings and loaders name the files by what they hold (`cases_file`, `load_cases`: case
records). `"cls"` as a *pooling* choice (`POOLING_CHOICES`) is the first-token ([CLS]) pooling, not the task.
"""

from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------- #
# The label reference (../shared/spec/labels.md): the defaults of the config.  #
# --------------------------------------------------------------------------- #

NER_ENTITY_TYPES: list[str] = [
    "NAME",
    "LOCATION",
    "VICTIM",
    "AGE",
    "GENDER",
    "INCIDENT_TYPE",
    "PERPETRATOR",
    "PHONE_NUMBER",
    "LANDMARK",
]

SUB_TO_MAIN_CATEGORY: dict[str, str] = {
    **{
        sub: "Advice and Counselling"
        for sub in [
            "Bullying",
            "Child in Conflict with the Law",
            "Discrimination",
            "Drug/Alcohol Abuse",
            "Family Relationship",
            "HIV/AIDS",
            "Homelessness",
            "Legal issues",
            "Missing Child",
            "Peer Relationships",
            "Physical Health",
            "Psychosocial/Mental Health",
            "Relationships (Boy/Girl)",
            "Relationships (Parent/Child)",
            "Relationships (Student/Teacher)",
            "School related issues",
            "Self Esteem",
            "Sexual & Reproductive Health",
            "Student/ Teacher Relationship",
            "Teen Pregnancy",
        ]
    },
    **{
        sub: "Child Maintenance & Custody"
        for sub in [
            "Adoption",
            "Birth Registration",
            "Custody",
            "Foster Care",
            "Maintenance",
            "No Care Giver",
            "Other",
        ]
    },
    **{
        sub: "Disability"
        for sub in [
            "Albinism",
            "Hearing impairment",
            "Hydrocephalus",
            "Mental impairment",
            "Multiple disabilities",
            "Physical impairment",
            "Speech impairment",
            "Spinal bifida",
            "Visual impairment",
        ]
    },
    **{
        sub: "GBV"
        for sub in [
            "Emotional/Psychological Violence",
            "Financial/Economic Violence",
            "Forced Marriage Violence",
            "Harmful Practice",
            "Physical Violence",
            "Sexual Violence",
        ]
    },
    **{
        sub: "Information"
        for sub in ["Child Abuse", "Child Rights", "Info on Helpline", "Legal Issues", "School Related Issues"]
    },
    **{
        sub: "Nutrition"
        for sub in [
            "Balanced Diet",
            "Breastfeeding",
            "Feeding & Food preparation",
            "Malnutrition",
            "Obesity",
            "Stagnation",
            "Underweight",
        ]
    },
    **{
        sub: "VANE"
        for sub in [
            "Child Abduction",
            "Child Labor",
            "Child Marriage",
            "Child Neglect",
            "Child Trafficking",
            "Emotional Abuse",
            "Female Genital Mutilation",
            "OCSEA",
            "Physical Abuse",
            "Sexual Abuse",
            "Traditional Practice",
            "Unlawful Confinement",
        ]
    },
}

UNKNOWN_CATEGORY = "Unknown"

MAIN_CATEGORIES: list[str] = sorted(set(SUB_TO_MAIN_CATEGORY.values())) + [UNKNOWN_CATEGORY]

INTERVENTIONS: list[str] = [
    "Counselling",
    "Referral",
    "Follow-up",
    "Legal Aid",
    "Psychosocial Support",
    "Medical Referral",
    "Home Visit",
    "Case Conference",
    "Police Referral",
    "Child Protection",
    "Emergency Response",
    "Mediation",
    "Shelter",
    "Nutritional Support",
    "Educational Support",
    "Signposting",
    "Awareness/Information Provided",
    "Unknown",
]

PRIORITIES: list[str] = ["1", "2", "3"]  # "1" critical, "2" urgent, "3" routine

CASE_HEADS: dict[str, list[str]] = {
    "main_category": MAIN_CATEGORIES,
    "sub_category": sorted(SUB_TO_MAIN_CATEGORY),
    "intervention": INTERVENTIONS,
    "priority": PRIORITIES,
}

QA_HEADS: dict[str, list[str]] = {
    "opening": ["use of call opening phrase"],
    "listening": [
        "caller not interrupted",
        "empathises with caller",
        "paraphrases/rephrases issue",
        "uses please and thank you",
        "does not hesitate or sound unsure",
    ],
    "proactiveness": [
        "willing to solve extra issues",
        "confirms satisfaction with action points",
        "follows up on case updates",
    ],
    "resolution": [
        "gives accurate information",
        "correct language use",
        "consults if unsure",
        "follows correct steps",
        "explains solution process clearly",
    ],
    "hold": ["explains before placing on hold", "thanks caller for holding"],
    "closing": ["proper call closing phrase used"],
}

# Which of a call's windows decide a quality head: the opening is said at the start of a call and the closing at its
# end, so only the call's first (last) window can show them; the other heads read every window ("all").
QA_WINDOW_SCOPES = ("all", "first", "last")
QA_WINDOW_SCOPE: dict[str, str] = {"opening": "first", "closing": "last"}



@dataclass(frozen=True)
class TaskInfo:
    """What the model and its data say about one task: the payload side of the task registry (`train/tasks.py`
    adds the data side: data setting, loader, metrics).

    Args:
        id: the task id (`"ner"`, `"cls"`, `"qa"`): identifiers, dict keys, the `task` column of batches.
        result_key: the key of `predict()`'s results (`"entities"`, `"case"`, `"quality"`).
        title: what the model card calls it.
        logits: the attribute of the model output holding its logits (`ner_logits`).
        head: the attribute of the model holding its head module (`ner_head`).
        heads_field: the config field naming its heads (`case_heads`, `qa_heads`); `None` for a token-level task,
            whose labels are one tag per token (the `labels` column, padded with -100).
        label_prefix: the prefix of its per-head label columns (`cls_priority`); `None` for a token-level task.
        kd: its distillation soft-target column (token-level) or column prefix (per head).
        multi_label: per head, independent yes/no outputs (sigmoid, 0/1 label vectors) rather than one class.
        state_layer: the config field naming one encoder layer its heads may read instead of the last
            (`qa_state_layer`), or `None`.
        turn_pooling: the config field whose value `"turns"` makes its heads pool over counsellor turns
            (`qa_pooling`), or `None`.
    """

    id: str
    result_key: str
    title: str
    logits: str
    head: str
    heads_field: str | None
    label_prefix: str | None
    kd: str
    multi_label: bool = False
    state_layer: str | None = None
    turn_pooling: str | None = None

    @property
    def token_level(self) -> bool:
        """One label per token (NER), not per window and head."""
        return self.heads_field is None


# The three tasks, named once (the table and the rule: the module docstring), in the order the model runs them.
TASK_INFO: dict[str, TaskInfo] = {
    "ner": TaskInfo("ner", "entities", "NER", "ner_logits", "ner_head", None, None, "kd_ner"),
    "cls": TaskInfo("cls", "case", "case classification", "cls_logits", "cls_head", "case_heads", "cls_", "kd_cls_"),
    "qa": TaskInfo(
        "qa", "quality", "call quality", "qa_logits", "qa_head", "qa_heads", "qa_", "kd_qa_", multi_label=True,
        state_layer="qa_state_layer", turn_pooling="qa_pooling",
    ),
}
TASKS: tuple[str, ...] = tuple(TASK_INFO)
TASK_RESULT_KEYS: dict[str, str] = {task: info.result_key for task, info in TASK_INFO.items()}
TASK_TITLES: dict[str, str] = {task: info.title for task, info in TASK_INFO.items()}
POOLING_CHOICES: tuple[str, ...] = ("attention", "cls", "mean")
NER_HEAD_CHOICES: tuple[str, ...] = ("linear", "mlp")
SENTENCE_TASKS: tuple[str, ...] = tuple(task for task, info in TASK_INFO.items() if not info.token_level)


def bio_tags(entity_types: list[str]) -> list[str]:
    """BIO tag list for ``entity_types``: ``O`` first, then ``B-X``/``I-X`` per type.

    Example:
        >>> bio_tags(["NAME", "AGE"])
        ['O', 'B-NAME', 'I-NAME', 'B-AGE', 'I-AGE']
    """
    tags = ["O"]
    for entity_type in entity_types:
        tags += [f"B-{entity_type}", f"I-{entity_type}"]
    return tags
