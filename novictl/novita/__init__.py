"""novita"""
