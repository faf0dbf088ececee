"""`dlpick migrate`: move a model or a code base off a retired framework, and prove the result agrees.

core (destination, proof, report, JSON) is shared; one module per source framework: caffe (to PyTorch,
with caffe_net/prototxt reading the net, caffe_dump.py running inside Caffe's Debian root and
caffe_torch writing the module; torch_port runs it), theano (to PyTensor).
"""
