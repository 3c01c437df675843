"""The machinery behind ``vae_helpers``: what a student need not read.

``vae_helpers.py`` holds the VAE itself (data, losses, model, training,
evaluation, saving). Everything else lives here, one module per concern:

* ``quiet_import`` – import Keras without TensorFlow's C++ start-up chatter;
* ``errors`` – the error classes, whose messages name the problem and the fix;
* ``parameters`` – checks of the notebooks' parameters;
* ``idx_data`` – MNIST / Fashion-MNIST IDX files, checksums, the Keras download;
* ``files`` – atomic file writes;
* ``bfloat16`` – bfloat16 matrix products for fast training on CPUs that
  have them (see ``docs/performance.md``);
* ``fast_training`` – the tf.data input pipeline, learning-rate schedule,
  epoch log and checkpoints;
* ``plots`` – one function per figure;
* ``explorer`` – the interactive latent explorer (ipywidgets);
* ``sweeps`` – planning, reusing and tabulating the runs of notebook 07
  (``grid`` trains them on Dask);
* ``exercises`` – the self-checks of the notebooks' exercises.

Importing the package imports Keras quietly first, so every module can
simply ``import keras``.
"""

from .quiet_import import import_keras_quietly

import_keras_quietly()
