{% raw %}"""Keras models: an MLP for tables, a small CNN for images, averaged embeddings for text."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers


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

    def compute_mask(self, inputs, mask=None):
        return None  # the mean has no time axis left to mask


# [end task]
def _head(features, n_outputs: int, task: str):
    """The output layer, in float32 even under a mixed-precision policy (stable loss and softmax)."""
    if task == "tabular-regression":
        return layers.Dense(1, dtype="float32", name="prediction")(features)
    logits = layers.Dense(n_outputs, name="logits")(features)
    return layers.Activation("softmax", dtype="float32", name="probabilities")(logits)


def build(preprocess: dict, config: dict) -> keras.Model:
    """The model for the task: it outputs class probabilities, or the (scaled) regression target."""
    task, outputs = preprocess["task"], preprocess["n_outputs"]
    shape = tuple(preprocess["model_input_shape"])
    # [task: text-classification]
    tokens = keras.Input(shape, dtype="int32", name="tokens")
    # Id 0 pads (see datasets.encode): mask_zero hides it from the mean.
    embedded = layers.Embedding(
        len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], mask_zero=True, name="embedding"
    )(tokens)
    return keras.Model(tokens, _head(MaskedMean(name="mean")(embedded), outputs, task), name="text_classifier")
    # [end task]
    # [task: image-classification]
    image = keras.Input(shape, name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(image)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dense(config["model"]["hidden"], activation="relu")(layers.Flatten()(x))
    return keras.Model(image, _head(x, outputs, task), name="cnn")
    # [end task]
    # [task: tabular-regression tabular-classification]
    features = keras.Input(shape, name="features")
    x = layers.Dense(config["model"]["hidden"], activation="relu")(features)
    x = layers.Dense(config["model"]["hidden"], activation="relu")(x)
    return keras.Model(features, _head(x, outputs, task), name="mlp")
    # [end task]


def compile_model(net: keras.Model, task: str, train_cfg: dict) -> keras.Model:
    """AdamW and the task's loss. Call inside the tf.distribute strategy's scope."""
    # The model outputs probabilities (not logits), so the exports do too.
    loss = "mean_squared_error" if task == "tabular-regression" else keras.losses.SparseCategoricalCrossentropy()
    # weight_decay 0.01: the PyTorch template's AdamW default, so both frameworks train alike.
    net.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=train_cfg["learning_rate"], weight_decay=0.01), loss=loss
    )
    return net


def load(run: Path, preprocess: dict, config: dict) -> keras.Model:
    """The trained model of a run, in float32 whatever policy it was trained under.

    Rebuilding and loading the weights (rather than keras.saving.load_model) drops a GPU run's
    mixed-precision policy, which would otherwise carry float16 into CPU inference and the exports.
    """
    keras.mixed_precision.set_global_policy("float32")
    net = build(preprocess, config)
    net.load_weights(run / "model.keras")
    return net{% endraw %}
