import unittest
from report import line


class TestLine(unittest.TestCase):
    def test_line(self):
        self.assertEqual(line('apples', 3), 'apples: 3 items')


if __name__ == '__main__':
    unittest.main()
