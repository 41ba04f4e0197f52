import unittest
from bag import add


class TestAdd(unittest.TestCase):
    def test_fresh_bags(self):
        self.assertEqual(add(1), [1])
        self.assertEqual(add(2), [2])
        self.assertEqual(add(3, [0]), [0, 3])


if __name__ == '__main__':
    unittest.main()
