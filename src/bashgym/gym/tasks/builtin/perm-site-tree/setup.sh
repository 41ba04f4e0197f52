#!/bin/bash
set -e
mkdir -p site/css site/js/lib && touch site/index.html site/css/a.css site/js/lib/x.js
chmod 700 site/css && chmod 777 site/js && chmod 600 site/index.html && chmod 755 site/js/lib/x.js
