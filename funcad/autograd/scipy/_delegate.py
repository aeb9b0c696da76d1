"""Modules whose attributes are those of a funcad.scipy.stats distribution."""


def delegate(dist: str):
    def __getattr__(name):
        from ...scipy import stats

        obj = getattr(stats, dist, None)
        if obj is None:
            raise AttributeError(f"funcad.scipy.stats has no {dist} distribution yet, so "
                                 f"funcad.autograd.scipy.stats.{dist}.{name} is not available.")
        try:
            return getattr(obj, name)
        except AttributeError:
            raise AttributeError(f"funcad.scipy.stats.{dist} has no {name!r}.") from None

    return __getattr__
