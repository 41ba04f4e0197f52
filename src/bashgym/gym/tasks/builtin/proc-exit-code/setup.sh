#!/bin/bash
set -e
printf '#!/bin/bash\necho checking\nexit 3\n' > check.sh && chmod +x check.sh
