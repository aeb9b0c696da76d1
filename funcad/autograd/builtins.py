"""``funcad.autograd.builtins``: autograd's differentiable containers are Python's own in
funcad (tuples, lists and dicts are pytrees), so these are the builtins themselves."""

import builtins as _b

tuple, list, dict, isinstance, type = _b.tuple, _b.list, _b.dict, _b.isinstance, _b.type  # noqa: A001

SequenceBox = DictBox = None  # autograd's boxes do not exist: funcad traces, it does not box
