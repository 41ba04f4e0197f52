import unittest
from rank import rank


class TestRank(unittest.TestCase):
    def test_highest_first(self):
        self.assertEqual(rank({'a': 1, 'b': 5, 'c': 3}), ['b', 'c', 'a'])

    def test_ties_by_name(self):
        self.assertEqual(rank({'y': 2, 'x': 2}), ['x', 'y'])


if __name__ == '__main__':
    unittest.main()
