"""{{ cookiecutter.project_name }}: {{ cookiecutter.task }} with TensorFlow (Keras 3)."""

import os

# Before TensorFlow loads (every module imports it after this package): its C++ INFO and
# WARNING lines (CPU features, XNNPACK, ...) would drown the progress output. Set it to 0 to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Keras 3 runs on several backends, but this project's engine uses TensorFlow itself (tf.function,
# SavedModel, TFLite): TensorFlow's backend whatever KERAS_BACKEND or ~/.keras/keras.json say.
os.environ["KERAS_BACKEND"] = "tensorflow"
