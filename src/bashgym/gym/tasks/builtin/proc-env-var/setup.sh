#!/bin/bash
set -e
printf '#!/bin/bash\necho "running in ${MODE:-dev}"\n' > app.sh && chmod +x app.sh
