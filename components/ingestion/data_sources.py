"""Where the four Fashion-MNIST IDX files are looked for, in order (no TensorFlow: the runners check it first).

idx.resolve_data_dir() tries --data_dir, then $FASHION_MNIST_DIR, the Keras
cache, Debian's dataset-fashion-mnist package, else downloads into the Keras
cache.
"""
import os

DATA_DIR_ENV = 'FASHION_MNIST_DIR'
KERAS_CACHE_DIR = os.path.join('~', '.keras', 'datasets', 'fashion-mnist')
DEBIAN_DATA_DIR = '/usr/share/datasets/fashion-mnist'
DOWNLOAD_BASE_URL = 'https://storage.googleapis.com/tensorflow/tf-keras-datasets/'
