#!/bin/bash
set -e
printf '#!/bin/bash\nwhile true; do sleep 1; done\n' > hang.sh && chmod +x hang.sh
