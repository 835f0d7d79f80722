"""The schema of each family's run config (pydantic): every field's type and allowed values, checked before
anything heavy is imported, any data read or any model built.

``check_schema(family, cfg, source)`` validates a layered config (defaults <- file <- overrides) and
returns it with values coerced to their types; the first problem is a :class:`ConfigError` of one line
naming the source, the field, the value and what is allowed. The registries' names (methods, channels,
tasks, ...) are spelled here so that this module needs neither torch nor the models; a test keeps them
equal to the registries. Checks across fields that need the registries stay in :mod:`.config`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from .layering import ConfigError

__all__ = ["CHANNELS", "METHODS", "MFMSC_ARCHES", "MFMSC_TASKS", "PRETRAIN_METHODS", "REQUIRED", "SCHEMA_MODELS",
           "check_schema"]

METHODS = ("deepjscc", "deepsc", "semcc", "semre", "mijscc", "a-mijscc")
CHANNELS = ("awgn", "rayleigh", "rayleigh_fast", "rician", "tdl")
PRETRAIN_METHODS = ("proposed", "simclr", "barlow_twins")
MFMSC_ARCHES = ("mfmsc", "mmsc", "udeepsc")
MFMSC_TASKS = ("image_cls", "image_recon", "text_cls", "text_recon", "speech_asr", "video_cls", "vqa", "poster")

class _Required:
    """The default of a key a config must set (a family's defaults hold it, so the key is known)."""

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return "REQUIRED"


REQUIRED = _Required()

Method = Literal[METHODS]
Channel = Literal[CHANNELS]
PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
SnrRange = Union[float, Annotated[list[float], Field(min_length=2, max_length=2)]]
Devices = Union[PositiveInt, Literal["auto"], list[Count]]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- image: DeepJSCC, DeepSC, SemCC, SemRE, MIJSCC, A-MIJSCC ---------------------------------------------------
class ImageDataset(_Section):
    name: str
    root: str | None
    val_size: Count
    train_size: PositiveInt | None


class ImageChannel(_Section):
    name: Channel
    csi: Literal["perfect", "ls"]
    pilots: PositiveInt


class StepOptimizer(_Section):
    lr: Positive
    step_epochs: PositiveInt
    gamma: Annotated[float, Field(gt=0, le=1)]
    schedule: Literal["step", "plateau"]
    plateau_patience: Count


class ImageLoss(_Section):
    alpha: Union[Probability, Literal["ratio"]]
    alpha2: Union[Probability, Literal["ratio"]]
    tau: Positive
    proj_hidden: PositiveInt
    proj_dim: PositiveInt
    beta: Probability
    update_every: PositiveInt
    update_unit: Literal["epoch", "step"]
    semantic_views: Literal["both", "transmitted"]
    denominator: Literal["negatives", "all"]
    rec_reduction: Literal["mean", "sum"]
    lam: NonNegative
    mu1: NonNegative
    mu2: NonNegative
    disc_hidden: PositiveInt
    eta: NonNegative
    attention: StrictBool
    mask_hidden: PositiveInt
    temperature: Positive


class Finetune(_Section):
    epochs: Count
    lr: Positive
    step_epochs: PositiveInt
    gamma: Annotated[float, Field(gt=0, le=1)]


class ImageTrainer(_Section):
    max_epochs: Count
    patience: PositiveInt | None
    min_delta: NonNegative
    monitor: Literal["val/loss", "val/psnr", "val/acc"]
    batch_size: PositiveInt
    limit_train_batches: Union[PositiveInt, Annotated[float, Field(gt=0, le=1)], None]
    accelerator: str
    devices: Devices
    num_nodes: PositiveInt
    strategy: str
    precision: str
    compile: StrictBool
    num_workers: Count
    progress_bar: StrictBool


class Classifier(_Section):
    arch: str
    depth: PositiveInt
    width: PositiveInt | None
    checkpoint: str | None
    max_epochs: Count
    lr: Positive
    batch_size: PositiveInt
    augment: StrictBool


class ImageEval(_Section):
    snr_db: Annotated[list[float], Field(min_length=1)]
    samples: PositiveInt


class ImageConfig(_Section):
    method: Method
    seed: Count
    dataset: ImageDataset
    ratio: Union[Annotated[float, Field(gt=0, le=1)], str]
    quant_bits: Annotated[int, Field(ge=1, le=16)] | None
    model: dict[Literal["width"], PositiveInt]
    channel: ImageChannel
    train_snr_db: SnrRange
    val_snr_db: float
    optimizer: StepOptimizer
    loss: ImageLoss
    init_from: str | None
    finetune: Finetune
    trainer: ImageTrainer
    classifier: Classifier
    eval: ImageEval


# -- multimodal: devices and server ---------------------------------------------------------------------------
class MultimodalDataset(_Section):
    name: str
    root: str | None
    size: PositiveInt
    train_size: PositiveInt | None
    test_size: PositiveInt | None


class MultimodalModel(_Section):
    k: PositiveInt
    width: PositiveInt
    norm: Literal["batch", "group"]
    server_hidden: PositiveInt
    feature_norm: Literal["none", "batch"]


class Augment(_Section):
    resize: PositiveInt | None
    crop: PositiveInt
    scale: Annotated[list[Annotated[float, Field(gt=0, le=1)]], Field(min_length=2, max_length=2)]
    flip: StrictBool
    color_jitter: NonNegative
    grayscale: Probability
    blur: Probability
    depth_scale: NonNegative
    depth_noise: NonNegative


class Pretrain(_Section):
    method: Literal[PRETRAIN_METHODS]
    epochs: Count
    batch_size: Annotated[int, Field(ge=2)]
    optimizer: Literal["sgd", "adam"]
    lr: Positive
    momentum: Annotated[float, Field(ge=0, lt=1)]
    weight_decay: NonNegative
    k_shared: PositiveInt
    projector: list[PositiveInt]
    warmup_steps: Count
    lam_intra: NonNegative
    lam_shared: NonNegative
    lam_unique: NonNegative
    tau: Positive
    center: StrictBool
    augment: StrictBool
    shuffle: StrictBool


class MultimodalFinetune(_Section):
    rounds: PositiveInt
    batch_size: PositiveInt
    optimizer: Literal["sgd", "adam"]
    lr: Positive
    momentum: Annotated[float, Field(ge=0, lt=1)]
    weight_decay: NonNegative
    snr_db: Union[float, Annotated[list[float], Field(min_length=1)]]
    label_fraction: Annotated[float, Field(gt=0, le=1)]
    eval_every: PositiveInt
    augment: StrictBool


class MultimodalTrainer(_Section):
    accelerator: str
    devices: Devices
    num_nodes: PositiveInt
    strategy: str
    precision: str
    num_workers: Count
    progress_bar: StrictBool


class MultimodalConfig(_Section):
    seed: Count
    dataset: MultimodalDataset
    modalities: Annotated[list[Literal["rgb", "depth"]], Field(min_length=1)]
    model: MultimodalModel
    channel: dict[Literal["name"], Channel]
    augment: Augment
    pretrain: Pretrain
    finetune: MultimodalFinetune
    trainer: MultimodalTrainer


# -- mfmsc: multi-task systems ----------------------------------------------------------------------------------
class MfmscData(_Section):
    train_size: PositiveInt
    train_size_per_task: dict[Literal[MFMSC_TASKS], PositiveInt]
    test_size: PositiveInt
    text_max_len: PositiveInt
    vocab_size: Annotated[int, Field(ge=8)]
    speech_bins: PositiveInt
    speech_frames: PositiveInt
    video_frames: PositiveInt
    video_size: PositiveInt
    image_size: PositiveInt
    cache_dir: str | None


class MfmscModel(_Section):
    dim: PositiveInt
    image_width: PositiveInt
    text_layers: PositiveInt
    speech_channels: Annotated[list[PositiveInt], Field(min_length=1)]
    speech_layers: PositiveInt
    video_layers: PositiveInt
    vit_layers: PositiveInt
    encoder_heads: PositiveInt
    fusion_layers: PositiveInt
    fusion_heads: PositiveInt
    fusion_norm: Literal["post", "pre"]
    fusion_dropout: Annotated[float, Field(ge=0, lt=1)]
    channel_hidden: PositiveInt
    symbols_per_token: PositiveInt
    pool_tokens: PositiveInt


class MfmscTrain(_Section):
    epochs: PositiveInt
    batch_size: PositiveInt
    lr: Positive
    lr_per_task: dict[Literal[MFMSC_TASKS], Positive]
    warmup_steps: Count
    snr_db: SnrRange
    channel: Channel


class MfmscEval(_Section):
    snr_db: Annotated[list[float], Field(min_length=1)]
    channels: Annotated[list[Channel], Field(min_length=1)]
    batch_size: PositiveInt


class MfmscTrainer(_Section):
    accelerator: str
    devices: Devices
    num_nodes: PositiveInt
    strategy: str
    precision: str
    progress_bar: StrictBool


class MfmscConfig(_Section):
    seed: Count
    arch: Literal[MFMSC_ARCHES]
    tasks: Annotated[list[Literal[MFMSC_TASKS]], Field(min_length=1)]
    data: MfmscData
    model: MfmscModel
    train: MfmscTrain
    eval: MfmscEval
    trainer: MfmscTrainer


#: family -> its config model
SCHEMA_MODELS = {"image": ImageConfig, "multimodal": MultimodalConfig, "mfmsc": MfmscConfig}


def check_schema(family: str, cfg: dict, source: str = "config") -> dict:
    """``cfg`` checked against the family's schema, values coerced to their types; ConfigError otherwise."""
    missing = _required_left(cfg)
    if missing:
        raise ConfigError(f"{source}: {missing} is missing (required)")
    try:
        model = SCHEMA_MODELS[family].model_validate(cfg)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_first_problem(err)}") from None
    return model.model_dump()


def _required_left(cfg: dict, where: str = "") -> str | None:
    """The first key still holding REQUIRED."""
    for key, value in cfg.items():
        if value is REQUIRED:
            return f"{where}{key}"
        if isinstance(value, dict):
            found = _required_left(value, f"{where}{key}.")
            if found:
                return found
    return None


def _first_problem(err: ValidationError) -> str:
    """The first field with a problem as ``field = value: what is allowed`` (for a field that takes one of
    several types, what each would allow)."""
    problems = err.errors(include_url=False)
    path = _field_path(problems[0]["loc"])
    first = problems[0]
    if first["type"] == "missing":
        return f"{path} is missing (required)"
    if first["type"] == "extra_forbidden":
        return f"unknown key {path}"
    allowed = []
    for problem in problems:
        message = problem["msg"].removeprefix("Input should be ")
        if _field_path(problem["loc"]) == path and message not in allowed:
            allowed.append(message)
    return f"{path} = {first.get('input')!r}: should be {' or '.join(allowed)}"


def _field_path(loc) -> str:
    """``trainer.devices`` of a location such as ``('trainer', 'devices', "literal['auto']")``: pydantic names
    the member of a union it tried after the field; field names never hold brackets, quotes or dashes."""
    parts = [str(p) for p in loc
             if not (isinstance(p, str) and (p in ("int", "float", "str", "bool", "none") or set(p) & set("[]'-")))]
    return ".".join(parts)
