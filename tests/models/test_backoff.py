from itertools import islice

from models.backoff import delays


def test_delays_double_up_to_their_cap():
    assert list(islice(delays(0.25, 1.0), 5)) == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert list(islice(delays(1.0), 3)) == [1.0, 2.0, 4.0]
