import unittest
from config import get


class HiddenTestGet(unittest.TestCase):
    def test_default(self):
        self.assertEqual(get('port'), 8080)

    def test_override(self):
        self.assertEqual(get('host', {'host': 'db'}), 'db')


if __name__ == '__main__':
    unittest.main()
