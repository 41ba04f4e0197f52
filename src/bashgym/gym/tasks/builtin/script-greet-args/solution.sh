#!/bin/bash
set -e
printf '#!/bin/bash\necho "Hello, ${1:-world}!"\n' > greet.sh && chmod +x greet.sh
