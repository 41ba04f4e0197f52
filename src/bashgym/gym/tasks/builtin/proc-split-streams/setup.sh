#!/bin/bash
set -e
printf '#!/bin/bash\necho out 1\necho err 1 >&2\necho out 2\necho err 2 >&2\n' > noisy.sh && chmod +x noisy.sh
