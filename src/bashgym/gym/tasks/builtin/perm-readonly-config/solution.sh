#!/bin/bash
set -e
chmod 444 config/*
