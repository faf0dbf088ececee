{% raw %}"""TensorFlow (Keras 3) engine: Keras functional models trained by a `tf.function` step (GradientTape,
AdamW), traced once for any batch size; exported as model.keras, a SavedModel, TFLite and
dynamic-range int8 TFLite.

# [task: image-classification]
The model takes the driver's inputs as they are (channels-first images, transposed to Keras'
channels-last layout by its first layer) and outputs raw values, so the exports and the server
take and give the same as `forward`.
# [end task]
# [task: tabular-regression tabular-classification text-classification]
The model takes the driver's inputs as they are and outputs raw values, so the exports and the
server take and give the same as `forward`.
# [end task]
"""

from __future__ import annotations

import contextlib
# [task: image-classification]
import io
# [end task]
import shutil
import sys
# [task: image-classification]
import warnings
# [end task]
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

{% endraw %}FRAMEWORK = "{{ cookiecutter.__framework }}"{% raw %}
NAME = "TensorFlow (Keras 3)"
# cuda, gpu and mps all mean "TensorFlow's GPU" (CUDA on Linux, tensorflow-metal on Apple).
DEVICES = ("auto", "cuda", "gpu", "mps", "cpu")
EXPORT_FORMATS = ("Keras", "SavedModel", "TFLite", "int8 TFLite")
PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "tensorboard")  # their versions go into run.json
WEIGHT_DECAY = 0.01  # AdamW, as torch.optim.AdamW's default
_device = "cpu"


def select_device(name: str) -> str:
    """auto: TensorFlow's visible GPU, else the CPU. Runs before TensorFlow starts its runtime."""
    global _device
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cpu" or (name == "auto" and not gpus):
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        _device = "cpu"
        return _device
    if not gpus:
        raise SystemExit(
            f"error: --device {name} but TensorFlow sees no GPU "
            "(install the CUDA build: pip install -e '.[gpu]'; see the README)"
        )
    for gpu in gpus:  # take GPU memory as needed instead of all of it up front
        tf.config.experimental.set_memory_growth(gpu, True)
    # TensorFlow calls every GPU "GPU"; on Linux that is CUDA (Apple's tensorflow-metal GPU is not).
    _device = "cuda" if tf.test.is_built_with_cuda() else "gpu"
    return _device


def seed(value: int) -> None:
    """Python's, NumPy's and TensorFlow's seeds (the initial weights of the next `build`)."""
    keras.utils.set_random_seed(value)


def _policy(enabled: bool) -> str:
    """Mixed precision on GPUs only: bfloat16 from Ampere (compute capability 8.0) on, else float16."""
    if _device == "cpu" or not enabled:
        return "float32"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    capability = details.get("compute_capability")
    return "mixed_bfloat16" if capability and capability >= (8, 0) else "mixed_float16"


# [task: text-classification]
@keras.saving.register_keras_serializable(package=__package__)
class MaskedMean(layers.Layer):
    """Mean of the token embeddings over the real tokens (Embedding's mask drops the padding).

    Unlike GlobalAveragePooling1D, a text that is all padding gives zeros instead of 0 / 0 = NaN.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return keras.ops.mean(inputs, axis=1)
        weights = keras.ops.expand_dims(keras.ops.cast(mask, inputs.dtype), -1)
        return keras.ops.sum(inputs * weights, axis=1) / keras.ops.maximum(keras.ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):  # noqa: ARG002 (Keras's signature)
        return None  # the mean has no time axis left to mask


# [end task]
# [task: image-classification]
# keras.applications models that take 0-255 RGB pixels and preprocess them inside (`model.backbone`).
BACKBONES = ("MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "EfficientNetV2B0", "ConvNeXtTiny")
MIN_SIZE = 32  # the smallest input these models are built for


def _setting_error(message: str) -> SystemExit:
    """A config value that cannot be used: one line, exit status 2 (as the config's own checks)."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)


def _backbone(settings: dict, x, initial_weights: bool):
    """`model.backbone` (a keras.applications model, global-average pooled) on the grey images,
    resized to at least 32 px, repeated to RGB and scaled to 0-255 as those models expect. Its
    starting weights, `model.weights`: `none` (new), `imagenet` (Keras downloads them once, into
    ~/.keras/models) or a weights file of the same backbone, as saved by
    `model.get_layer("backbone").save_weights("backbone.weights.h5")`."""
    name, weights = settings["backbone"], settings.get("weights", "none")
    if name not in BACKBONES:
        raise _setting_error(f"model.backbone: {name!r} is not one of cnn, {', '.join(BACKBONES)}")
    size = max(MIN_SIZE, x.shape[1], x.shape[2])
    if (x.shape[1], x.shape[2]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    x = layers.Concatenate(name="rgb")([x, x, x]) if x.shape[-1] == 1 else x
    x = layers.Rescaling(255.0, name="pixels")(x)
    download = weights == "imagenet" and initial_weights
    messages = io.StringIO()  # Keras's "Downloading data from ..." and its input-size warning
    with warnings.catch_warnings(), contextlib.redirect_stdout(messages):
        warnings.simplefilter("ignore", UserWarning)
        try:
            base = getattr(keras.applications, name)(
                include_top=False,
                weights="imagenet" if download else None,
                input_shape=(size, size, 3),
                pooling="avg",
                name="backbone",
            )
        except Exception as exc:  # noqa: BLE001 (Keras raises a bare Exception when the download fails)
            if not download:
                raise
            why = str(exc).strip().split(" -- ")[-1].splitlines()[-1][:120] if str(exc).strip() else type(exc).__name__
            raise _setting_error(
                f"model.weights: imagenet: cannot download {name}'s ImageNet weights ({why}); connect once "
                "(Keras keeps them in ~/.keras/models), or set model.weights to none or a .weights.h5 file"
            ) from None
    sys.stderr.write(messages.getvalue())
    if weights not in ("none", "imagenet") and initial_weights:
        if not Path(weights).is_file():
            raise _setting_error(f"model.weights: {weights}: no such file (none, imagenet or a .weights.h5 file)")
        try:
            with warnings.catch_warnings():  # Keras warns per layer it skips, then raises
                warnings.simplefilter("ignore")
                base.load_weights(weights)
        except Exception as exc:  # noqa: BLE001 (a file of another model: ValueError, KeyError, OSError)
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
            raise _setting_error(f"model.weights: {weights}: not weights of {name} at {size} px ({why})") from None
    return base(x)


# [end task]
# [task: image-classification]
def _model(preprocess: dict, config: dict, initial_weights: bool = True) -> keras.Model:
    """The task's model; its output layer is float32
    even under a mixed-precision policy. `initial_weights=False`: the architecture only (the
    weights are loaded next), so a pretrained backbone's are not fetched for nothing."""
    # [end task]
    # [task: tabular-regression tabular-classification text-classification]
def _model(preprocess: dict, config: dict) -> keras.Model:
    """The task's model; its output layer is float32 even under a mixed-precision policy."""
    # [end task]
    outputs, shape = preprocess["n_outputs"], tuple(preprocess["input_shape"])
    # [task: text-classification]
    tokens = keras.Input(shape, dtype="int64", name="tokens")
    # Id 0 pads (see datasets.encode): mask_zero hides it from the mean.
    embedded = layers.Embedding(
        len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], mask_zero=True, name="embedding"
    )(tokens)
    logits = layers.Dense(outputs, dtype="float32", name="logits")(MaskedMean(name="mean")(embedded))
    return keras.Model(tokens, logits, name="text_classifier")
    # [end task]
    # [task: image-classification]
    image = keras.Input(shape, name="image")  # (channels, height, width), as data.inputs gives it
    x = layers.Permute((2, 3, 1))(image)  # Keras convolutions take channels last
    backbone = config["model"].get("backbone", "cnn")
    if backbone == "cnn":
        x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = layers.Flatten()(layers.MaxPooling2D(2)(x))
    else:
        x = _backbone(config["model"], x, initial_weights)
    x = layers.Dense(config["model"]["hidden"], activation="relu")(x)
    return keras.Model(image, layers.Dense(outputs, dtype="float32", name="logits")(x), name=backbone)
    # [end task]
    # [task: tabular-regression tabular-classification]
    features = keras.Input(shape, name="features")
    x = layers.Dense(config["model"]["hidden"], activation="relu")(features)
    x = layers.Dense(config["model"]["hidden"], activation="relu")(x)
    return keras.Model(features, layers.Dense(outputs, dtype="float32", name="prediction")(x), name="mlp")
    # [end task]


def build(preprocess: dict, config: dict) -> keras.Model:
    keras.mixed_precision.set_global_policy(_policy(config["train"].get("mixed_precision", True)))
    return _model(preprocess, config)


class Trainer:
    """AdamW and the task's loss; `step` runs one update in a `tf.function` traced once (the batch
    dimension is left open, so a short last batch does not trace it again)."""

    def __init__(self, model: keras.Model, train_cfg: dict) -> None:
        self.model = model
        adamw = keras.optimizers.AdamW(learning_rate=train_cfg["learning_rate"], weight_decay=WEIGHT_DECAY)
        optimizer = adamw
        if keras.mixed_precision.global_policy().name == "mixed_float16":  # float16 needs loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(adamw)
        optimizer.build(model.trainable_variables)  # its variables exist before the step is traced
        self.optimizer = optimizer
        # What training continues from, in one Keras weights file: `with_optimizer`, a model over the same
        # layers compiled with the optimizer (no loss: the step below is the training), whose `save_weights`
        # writes the layers' weights and the optimizer's variables (AdamW's step count, learning rate and
        # moments; under mixed_float16 the LossScaleOptimizer's loss scale too), as it does for any compiled
        # model (Keras 3 walks the model's `optimizer` in keras/src/saving/saving_lib.py `_save_state`; the
        # file keras.callbacks.BackupAndRestore keeps). `model` stays uncompiled: model.keras and a best
        # epoch's weights file hold its weights only. The models draw no random numbers (no dropout).
        self.with_optimizer = keras.Model(model.inputs, model.outputs, name=model.name)
        self.with_optimizer.compile(optimizer=optimizer)
        self.adamw = adamw
        spec = model.inputs[0]
        x = tf.TensorSpec((None, *spec.shape[1:]), spec.dtype)
        # [task: tabular-regression]
        y = tf.TensorSpec((None,), tf.float32)  # the standardised target
        # [end task]
        # [task: tabular-classification image-classification text-classification]
        y = tf.TensorSpec((None,), tf.int64)  # class ids
        # [end task]
        self._step = tf.function(self._train_step, input_signature=(x, y))
        self._loss = tf.function(self._eval_loss, input_signature=(x, y))

    def _loss_of(self, y: tf.Tensor, out: tf.Tensor) -> tf.Tensor:
        out = tf.cast(out, tf.float32)
        # [task: tabular-regression]
        return tf.reduce_mean(tf.square(out[:, 0] - y))
        # [end task]
        # [task: tabular-classification image-classification text-classification]
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=out))
        # [end task]

    def _train_step(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = self._loss_of(y, self.model(x, training=True))
            scaled = self.optimizer.scale_loss(loss)  # the loss itself unless LossScaleOptimizer
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss

    def _eval_loss(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return self._loss_of(y, self.model(x, training=False))

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._step(x, y))

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._loss(x, y))

    def learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    def snapshot(self) -> dict[str, np.ndarray]:
        return {variable.path: np.array(variable.numpy()) for variable in self.model.weights}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        for variable in self.model.weights:
            variable.assign(snapshot[variable.path])

    def state(self) -> dict[str, np.ndarray]:
        """The weights, as the loop keeps the best epoch's (the checkpoint holds the optimizer's variables too:
        `with_optimizer`)."""
        return self.snapshot()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.restore(state)


def forward(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Raw outputs; the model is called eagerly (no tf.function tracing)."""
    return np.asarray(model(x, training=False), dtype=np.float32)


def save(model: keras.Model, run: Path) -> None:
    model.save(run / "model.keras")  # float32 whatever the training precision (see load)


def load(run: Path, preprocess: dict, config: dict) -> keras.Model:
    """The trained model of a run, in float32 whatever policy it was trained under: rebuilt and
    loaded (rather than keras.saving.load_model), which drops a GPU run's mixed-precision policy."""
    keras.mixed_precision.set_global_policy("float32")
    # [task: image-classification]
    model = _model(preprocess, config, initial_weights=False)
    # [end task]
    # [task: tabular-regression tabular-classification text-classification]
    model = _model(preprocess, config)
    # [end task]
    model.load_weights(run / "model.keras")
    return model


def _tflite(path: Path, x: np.ndarray) -> np.ndarray:
    """The TFLite model's outputs on `x`, with the LiteRT interpreter (ai-edge-litert), else the
    older tf.lite.Interpreter (no LiteRT wheel for Windows)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter  # noqa: N806
    interpreter = Interpreter(model_content=path.read_bytes())
    source = interpreter.get_input_details()[0]
    # The converter fixes the batch at 1 (shape_signature keeps -1): resize to the whole split.
    interpreter.resize_tensor_input(source["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy()


def export(model: keras.Model, x: np.ndarray, run: Path) -> dict:
    """model.keras, saved_model/ (model.export, for TF Serving), model.tflite and model.int8.tflite
    (post-training dynamic-range quantisation: int8 weights; layers with fewer than 1024 weights stay
    float), each reloaded with its runtime and run on `x`."""
    save(model, run)
    shutil.rmtree(run / "saved_model", ignore_errors=True)
    # The `serve` endpoint in inference mode, said explicitly: `model.export` traced a keras.applications
    # backbone in training mode (batch statistics instead of BatchNormalization's moving ones).
    spec = model.inputs[0]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((None, *spec.shape[1:]), spec.dtype, name=spec.name)],
    )
    with contextlib.redirect_stdout(sys.stderr):  # the exporters print progress
        archive.write_out(str(run / "saved_model"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(run / "saved_model"))
    (run / "model.tflite").write_bytes(converter.convert())
    converter = tf.lite.TFLiteConverter.from_saved_model(str(run / "saved_model"))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # without a representative data set: dynamic range
    (run / "model.int8.tflite").write_bytes(converter.convert())
    keras_file = keras.saving.load_model(run / "model.keras")
    saved = tf.saved_model.load(str(run / "saved_model"))
    return {
        "keras": {"file": "model.keras", "output": np.asarray(keras_file(x, training=False))},
        "saved_model": {"file": "saved_model", "output": saved.serve(tf.constant(x)).numpy()},
        "tflite": {"file": "model.tflite", "output": _tflite(run / "model.tflite", x)},
        "tflite-int8": {
            "file": "model.int8.tflite",
            "output": _tflite(run / "model.int8.tflite", x),
            "quantised": True,
        },
    }


class _Writer:
    """TensorBoard scalars (tf.summary)."""

    def __init__(self, folder: Path) -> None:
        self.writer = tf.summary.create_file_writer(str(folder))

    def scalar(self, tag: str, value: float, step: int) -> None:
        with self.writer.as_default():
            tf.summary.scalar(tag, value, step=step)

    def close(self) -> None:
        self.writer.close()


def writer(folder: Path) -> _Writer:
    return _Writer(folder){% endraw %}
