#!/bin/bash
echo ok > ran.txt
